/**
 * The search index on a generated dataset: how long a build takes, the longest event-loop pause
 * of the serving thread during it, the memory it keeps (the process's resident memory: the index
 * lives in a worker thread), and the time of a search (three types, page of 20; a round trip to
 * the worker) over the load suite's kind of query (an artist name or album title with one slip):
 *   npm run bench:data -- --size L --target postgres      (once)
 *   node --expose-gc --import tsx bench/search-index.ts [--size L] [--searches 3000]
 * The database is the bench dataset's (`BENCH_PG_URL`, default postgres://postgres@127.0.0.1:5432),
 * as `npm run bench -- --target postgres` uses it. Nothing is written.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { SEARCH_TAG } from '../src/modules/catalog/catalog.cache.js';
import { queryWords } from '../src/modules/catalog/catalog.repo.js';
import { normaliseQuery } from '../src/modules/catalog/catalog.service.js';
import { createSearchIndex, INDEXED_TYPES, plainQueryWords } from '../src/modules/catalog/search-index.js';
import { Cache, MemoryCacheStore } from '../src/platform/cache.js';
import { openDatabase, rowsOf } from '../src/platform/db.js';
import { withTypo } from './dataset/names.js';
import { randomStream } from './dataset/random.js';

const { values } = parseArgs({
  options: { size: { type: 'string', default: 'L' }, searches: { type: 'string', default: '3000' } },
});
const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const databaseUrl = `${base}/backbeat_bench_${values.size!.toLowerCase()}`;
const log = (line: string) => process.stdout.write(`${line}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) log('(run with node --expose-gc for the memory figures)');

const database = await openDatabase({ databaseUrl, dataDir: '' });
const cache = new Cache(new MemoryCacheStore(), 600);
// No remembered answers: each search below is the index's own work.
const index = createSearchIndex(database.db, cache, { answersKept: 0 });

gc?.();
const before = process.memoryUsage();
const pauses = monitorEventLoopDelay({ resolution: 5 });
pauses.enable();
const started = performance.now();
await index.refresh();
const buildMs = performance.now() - started;
pauses.disable();
gc?.();
const after = process.memoryUsage();
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;
log(
  `build ${Math.round(buildMs)} ms, longest event-loop pause ${(pauses.max / 1e6).toFixed(0)} ms, ` +
    `resident memory ${mb(after.rss - before.rss)} more (this thread's heap ${mb(after.heapUsed - before.heapUsed)})`,
);

const searcher = index.at(await cache.stamp([SEARCH_TAG]));
if (!searcher) throw new Error('the index was not built (more rows than it keeps?)');
const terms = (
  await rowsOf<{ term: string }>(
    database.db,
    sql`(select name as term from artists where is_visible order by md5(id::text) limit 500)
        union all (select title from albums where listed order by md5(id::text) limit 500)`,
  )
).map((r) => r.term);
const random = randomStream(7, 'search-index');
const queries: { q: string; words: string[] }[] = [];
for (let i = 0; i < Number(values.searches); i++) {
  const q = normaliseQuery(withTypo(random, terms[i % terms.length]!))!;
  queries.push({ q, words: plainQueryWords(q) ?? (await queryWords(database.db, q)) });
}
const window = { limit: 20, offset: 0 };
for (const type of INDEXED_TYPES) {
  const t0 = performance.now();
  for (const query of queries) await searcher({ ...query, ...window }, [type]);
  log(`${type}: ${((performance.now() - t0) / queries.length).toFixed(3)} ms per search`);
}
const times: number[] = [];
for (const query of queries) {
  const t0 = performance.now();
  await searcher({ ...query, ...window }, [...INDEXED_TYPES]);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const at = (p: number) => times[Math.floor(p * (times.length - 1))]!.toFixed(2);
const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
log(
  `all three types: mean ${mean.toFixed(2)} ms, p50 ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)} ` +
    `(${queries.length} searches, ${queries.filter((q) => plainQueryWords(q.q)).length} split without the database)`,
);
await index.close();
await database.close();
