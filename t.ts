import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';

let t = performance.now();
const a = await PGlite.create({ extensions: { pg_trgm } });
await a.exec('create extension pg_trgm; create table x(id int)');
console.log('create', performance.now() - t);
t = performance.now();
const dump = await a.dumpDataDir('none');
console.log('dump', performance.now() - t, dump.size);
t = performance.now();
const b = await PGlite.create({ loadDataDir: dump, extensions: { pg_trgm } });
await b.query('select * from x');
console.log('load', performance.now() - t);
t = performance.now();
const c = await a.clone();
await c.query('select * from x');
console.log('clone', performance.now() - t);
console.log(process.memoryUsage().rss / 1e6);
