/**
 * Shows the query plans (and median latencies) of the catalog's hot reads on ~100k songs:
 *   npx tsx bench/explain-catalog.ts                 fresh in-memory PGlite
 *   DATABASE_URL=postgres://... npx tsx bench/explain-catalog.ts   a PostgreSQL database
 *     (an empty one is migrated and filled; one that has a catalog is used as it is)
 * Every plan is the one PostgreSQL picks for the exact SQL the repository sends, captured
 * through drizzle's logger; any sequential scan on a catalog table is flagged.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { generateCatalog } from '../src/modules/catalog/catalog.demo.js';
import * as repo from '../src/modules/catalog/catalog.queries.js';
import { createCatalogService } from '../src/modules/catalog/index.js';
import { Cache, MemoryCacheStore } from '../src/platform/cache.js';
import {
  type Db,
  fromPglite,
  fromPostgres,
  migrateDatabase,
  PGLITE_EXTENSIONS,
  withTx,
} from '../src/platform/db.js';
import * as schema from '../src/schema.js';

const SHAPE = { artists: 2000, albumsPerArtist: 5, songsPerAlbum: 10, privateEvery: 25 };
const RUNS = 30;
const url = process.env.DATABASE_URL;
const log = (line = '') => process.stdout.write(`${line}\n`);

interface Captured {
  sql: string;
  params: unknown[];
}
const captured: Captured[] = [];
const logger = { logQuery: (sql: string, params: unknown[]) => void captured.push({ sql, params }) };

/** The database, a drizzle instance that records its SQL, and a raw query function for EXPLAIN. */
async function open() {
  if (url) {
    const database = fromPostgres(url, 2);
    await migrateDatabase(database, url);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    return {
      database,
      recording: drizzlePg({ client: pool, schema, logger }) as unknown as Db,
      raw: async (sql: string, params: unknown[]) => (await pool.query(sql, params)).rows,
      close: async () => {
        await pool.end();
        await database.close();
      },
    };
  }
  const client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  const database = fromPglite(client);
  await migrateDatabase(database);
  return {
    database,
    recording: drizzlePglite({ client, schema, logger }) as unknown as Db,
    raw: async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows,
    close: () => database.close(),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timeIt(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function main() {
  const db = await open();
  const started = performance.now();
  if (await repo.catalogIsEmpty(db.database.db)) {
    const catalog = generateCatalog(SHAPE);
    await withTx(db.database.db, (tx) => repo.bulkInsertCatalog(tx, catalog));
    log(
      `loaded ${catalog.artists.length} artists, ${catalog.albums.length} albums, ${catalog.songs.length} songs`,
    );
    log(`  in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await db.raw('analyze', []);
  const [sample] = (await db.raw(
    'select id, artist_name from albums where listed order by id limit 1',
    [],
  )) as {
    id: string;
    artist_name: string;
  }[];
  // One letter dropped from a real artist name: the typo a search must forgive.
  const typo = sample!.artist_name.replace(/^(The )?(\w+?)\w(\w*) /, '$1$2$3 ').toLowerCase();

  const listed = { kind: 'listed' } as const;
  const window = { limit: 20, offset: 0 };
  const scenarios: [string, () => Promise<unknown>][] = [
    [
      'albums: genre + year range, sort -popularity',
      () =>
        repo.listAlbums(db.recording, {
          scope: listed,
          genres: ['rock'],
          yearFrom: 1990,
          yearTo: 2000,
          sort: { field: 'popularity', descending: true },
          ...window,
        }),
    ],
    [
      'albums: default page (sort -createdAt)',
      () =>
        repo.listAlbums(db.recording, {
          scope: listed,
          sort: { field: 'createdAt', descending: true },
          ...window,
        }),
    ],
    [
      'albums: artist name, sort title',
      () =>
        repo.listAlbums(db.recording, {
          scope: listed,
          artistName: sample!.artist_name,
          sort: { field: 'title', descending: false },
          ...window,
        }),
    ],
    [
      `albums: typo search q=${JSON.stringify(typo)}`,
      () => repo.listAlbums(db.recording, { scope: listed, q: typo, sort: 'relevance', ...window }),
    ],
    [
      `songs: typo search q=${JSON.stringify(typo)}`,
      () => repo.listSongs(db.recording, { scope: listed, q: typo, sort: 'relevance', ...window }),
    ],
    [
      'songs: genre, sort -playCount',
      () =>
        repo.listSongs(db.recording, {
          scope: listed,
          genres: ['jazz'],
          sort: { field: 'playCount', descending: true },
          ...window,
        }),
    ],
    [
      'songs: the main list (sort -createdAt)',
      () =>
        repo.listSongs(db.recording, {
          scope: listed,
          sort: { field: 'createdAt', descending: true },
          ...window,
        }),
    ],
    [
      'songs: year range, sort -createdAt',
      () =>
        repo.listSongs(db.recording, {
          scope: listed,
          yearFrom: 2000,
          yearTo: 2004,
          sort: { field: 'createdAt', descending: true },
          ...window,
        }),
    ],
    [
      'songs: artist name, sort title',
      () =>
        repo.listSongs(db.recording, {
          scope: listed,
          artistName: sample!.artist_name,
          sort: { field: 'title', descending: false },
          ...window,
        }),
    ],
    [
      'album detail (album + its songs)',
      async () => {
        await repo.findAlbum(db.recording, sample!.id);
        await repo.listAlbumSongs(db.recording, sample!.id);
      },
    ],
  ];

  const seqScans: string[] = [];
  for (const [name, run] of scenarios) {
    captured.length = 0;
    await run();
    const queries = [...captured];
    log(`\n=== ${name}`);
    for (const query of queries) {
      const plan = (await db.raw(
        `explain (analyze, costs off, timing off, summary off) ${query.sql}`,
        query.params,
      )) as {
        'QUERY PLAN': string;
      }[];
      const lines = plan.map((row) => row['QUERY PLAN']);
      log(lines.map((line) => `  ${line}`).join('\n'));
      for (const line of lines) {
        const scan = /Seq Scan on (artists|albums|songs)\b/.exec(line);
        if (scan) seqScans.push(`${name}: ${scan[0]}`);
      }
      log();
    }
    log(`  median of ${RUNS} (uncached): ${(await timeIt(run)).toFixed(2)} ms`);
  }

  const catalog = createCatalogService({ db: db.database.db, cache: new Cache(new MemoryCacheStore(), 120) });
  log('\n=== through the service, cached (memory cache)');
  const cachedList = () =>
    catalog.listAlbums(null, {
      genre: ['rock'],
      yearFrom: 1990,
      yearTo: 2000,
      sort: '-popularity',
      ...window,
    });
  log(`  album list median: ${(await timeIt(cachedList)).toFixed(3)} ms`);
  log(`  album detail median: ${(await timeIt(() => catalog.getAlbum(null, sample!.id))).toFixed(3)} ms`);

  log(
    `\n${db.database.kind}: ${seqScans.length ? `SEQUENTIAL SCANS:\n  ${seqScans.join('\n  ')}` : 'no sequential scan on artists, albums or songs'}`,
  );
  await db.close();
}

await main();
