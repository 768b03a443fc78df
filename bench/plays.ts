/**
 * Listening and discovery at scale: bulk-loads ~10k songs and 1M plays (with every row that
 * ingestion maintains: guards, signals, hour buckets, window totals, play counts), then
 * measures play ingestion through the real app over HTTP and the latency of trending and
 * recommendations.
 *   npx tsx bench/plays.ts                 # embedded PGlite (in memory)
 *   DATABASE_URL=postgres://... npx tsx bench/plays.ts   # a scratch database on that server
 * Options (env): PLAYS (1000000), SONGS (10000), USERS (20000), SECONDS (10), CONNECTIONS (32).
 * The load generator (bench/plays-load.ts) runs in a process of its own on the same 2 cores.
 */

import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { setAlbumRecentPlays } from '../src/modules/catalog/index.js';
import { albumRecentPlays } from '../src/modules/discovery/discovery.repo.js';
import { createCacheStore } from '../src/platform/cache.js';
import {
  type Database,
  type Executor,
  fromPglite,
  fromPostgres,
  migrateDatabase,
  openPglite,
  withTx,
} from '../src/platform/db.js';
import type { LoadJob } from './plays-load.js';
import { driveLoad } from './processes.js';

const env = process.env;
const PLAYS = Number(env.PLAYS ?? 1_000_000);
const SONGS = Number(env.SONGS ?? 10_000);
const USERS = Number(env.USERS ?? 20_000);
const SECONDS = Number(env.SECONDS ?? 10);
const CONNECTIONS = Number(env.CONNECTIONS ?? 32);
const SONGS_PER_ALBUM = 10;
const ALBUMS = Math.ceil(SONGS / SONGS_PER_ALBUM);
const ARTISTS = Math.ceil(ALBUMS / 2);
/** Accounts that sign in and drive the HTTP part; they get bulk history like everyone else. */
const DRIVERS = 50;
const LATENCY_SAMPLES = 300;

const log = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

/** A fresh database: PGlite in memory, or a scratch database on the DATABASE_URL server. */
async function openScratch(): Promise<{ database: Database; url?: string; drop: () => Promise<void> }> {
  const serverUrl = env.DATABASE_URL;
  if (!serverUrl) return { database: fromPglite(await openPglite(undefined)), drop: async () => {} };
  const name = `backbeat_bench_plays_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    database: fromPostgres(url.toString(), 20),
    url: url.toString(),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const run = (db: Executor, statement: string) => db.execute(sql.raw(statement));

const DISCOVERY_TABLES = [
  'play_events',
  'play_count_guards',
  'listener_signals',
  'song_play_buckets',
  'song_trending',
];

/**
 * Bulk loads without per-row foreign-key checks (the rows are generated from the referenced
 * tables) and without secondary indexes, which are rebuilt once at the end.
 */
async function bulkLoad(database: Database, load: (tx: Executor) => Promise<void>): Promise<void> {
  await database.db.transaction(async (tx) => {
    const { rows: indexes } = (await tx.execute(
      sql.raw(`select indexname, indexdef from pg_indexes
        where tablename in (${DISCOVERY_TABLES.map((t) => `'${t}'`).join(', ')})
          and indexname not in (select conname from pg_constraint)`),
    )) as unknown as { rows: { indexname: string; indexdef: string }[] };
    for (const index of indexes) await run(tx, `drop index ${index.indexname}`);
    await run(tx, 'set local session_replication_role = replica');
    await load(tx);
    for (const index of indexes) await run(tx, index.indexdef);
  });
}

/** Artists, albums (one in twenty hidden), songs, and listeners, all generated in SQL. */
async function loadCatalog(database: Executor): Promise<void> {
  await run(
    database,
    `create table bench_genres as select * from unnest(array['Rock','Pop','Jazz','Hip-Hop','Electronic',
      'Classical','Folk','Metal','Soul','Reggae','Blues','Country','Punk','Funk','Ambient','Latin',
      'Indie','R&B','House','Techno']) with ordinality as g(name, n)`,
  );
  await run(
    database,
    `insert into artists (id, name)
     select gen_random_uuid(), 'Artist ' || n from generate_series(1, ${ARTISTS}) n`,
  );
  await run(
    database,
    `create table bench_artists as select row_number() over (order by id) as n, id, name from artists`,
  );
  await run(
    database,
    `insert into albums (id, artist_id, artist_name, title, genre, release_year, is_public, listed,
       song_count, duration_ms)
     select gen_random_uuid(), a.id, a.name, 'Album ' || i, g.name, 1960 + (i * 7) % 65,
       i % 20 <> 0, i % 20 <> 0, ${SONGS_PER_ALBUM}, ${SONGS_PER_ALBUM * 200_000}
     from generate_series(1, ${ALBUMS}) i
     join bench_artists a on a.n = 1 + (i - 1) % ${ARTISTS}
     join bench_genres g on g.n = 1 + (i * 13) % 20`,
  );
  await run(
    database,
    `insert into songs (id, album_id, artist_id, artist_name, title, track_number, duration_ms, genre, release_year,
       listed)
     select gen_random_uuid(), al.id, al.artist_id, al.artist_name, al.title || ' track ' || t, t,
       150000 + t * 10000, al.genre, al.release_year, al.listed
     from albums al cross join generate_series(1, ${SONGS_PER_ALBUM}) t`,
  );
  await run(
    database,
    `insert into users (id, email, username, password_hash, display_name)
     select gen_random_uuid(), 'listener-' || n || '@bench.test', 'listener-' || n, 'not-a-hash', 'Listener ' || n
     from generate_series(1, ${USERS - DRIVERS}) n`,
  );
}

/**
 * 1M `play` events over the last 30 days, songs drawn with a long tail (a few hits, many rarely
 * played), plus a `complete` after ~40 % and a `skip` after ~12 % of them; then every row the
 * ingestion path maintains, derived the same way. Repeats within 30 s are negligible at this
 * spread, so every generated play counts.
 */
async function loadPlays(database: Executor): Promise<void> {
  await run(
    database,
    `create table bench_songs as select row_number() over (order by id) - 1 as n, id from songs`,
  );
  await run(
    database,
    `create table bench_users as select row_number() over (order by id) - 1 as n, id from users`,
  );
  await run(database, `create unique index on bench_songs (n)`);
  await run(database, `create unique index on bench_users (n)`);
  const [songs, users] = [SONGS, USERS];
  await run(
    database,
    `create table bench_events as
     select u.id as user_id, s.id as song_id, date_trunc('milliseconds', now() - random() * interval '30 days') as played_at, random() as fate
     from (select floor(power(random(), 3) * ${songs})::int as sn, floor(random() * ${users})::int as un
           from generate_series(1, ${PLAYS})) r
     join bench_songs s on s.n = r.sn join bench_users u on u.n = r.un`,
  );
  await run(
    database,
    `insert into play_events (user_id, song_id, event, position_ms, played_at)
     select user_id, song_id, 'play', 0, played_at from bench_events
     union all
     select user_id, song_id, case when fate < 0.4 then 'complete' else 'skip' end,
       case when fate < 0.4 then 180000 else 20000 end,
       played_at + case when fate < 0.4 then interval '3 minutes' else interval '20 seconds' end
     from bench_events where fate < 0.52
     order by 5`,
  );
  await run(
    database,
    `insert into play_count_guards (user_id, song_id, counted_at)
     select user_id, song_id, max(played_at) from bench_events group by 1, 2 order by 1, 2`,
  );
  await run(
    database,
    `insert into listener_signals (user_id, song_id, completes, skips, last_completed_at)
     select user_id, song_id, count(*) filter (where fate < 0.4), count(*) filter (where fate >= 0.4),
       max(played_at) filter (where fate < 0.4) + interval '3 minutes'
     from bench_events where fate < 0.52 group by 1, 2 order by 1, 2`,
  );
  // Hours in UTC, as the service truncates them (independent of the session time zone).
  const hourOf = (column: string) => `to_timestamp(floor(extract(epoch from ${column}) / 3600) * 3600)`;
  await run(
    database,
    `insert into song_play_buckets (hour, song_id, plays)
     select ${hourOf('played_at')}, song_id, count(*) from bench_events group by 1, 2 order by 1, 2`,
  );
  const hourNow = hourOf('now()');
  const start = (hours: number) => `${hourNow} - interval '${hours - 1} hours'`;
  await run(
    database,
    `insert into song_trending (song_id, plays_24h, plays_7d, plays_30d)
     select song_id, coalesce(sum(plays) filter (where hour >= ${start(24)}), 0),
       coalesce(sum(plays) filter (where hour >= ${start(24 * 7)}), 0),
       coalesce(sum(plays) filter (where hour >= ${start(24 * 30)}), 0)
     from song_play_buckets group by song_id`,
  );
  await run(
    database,
    `insert into trending_rolls (window_name, rolled_until) values
     ('24h', ${start(24)}), ('7d', ${start(24 * 7)}), ('30d', ${start(24 * 30)})`,
  );
  await run(
    database,
    `update songs s set play_count = c.plays
     from (select song_id, count(*) as plays from bench_events group by 1) c where c.song_id = s.id`,
  );
  await run(
    database,
    `update albums a set play_count = c.plays
     from (select album_id, sum(play_count) as plays from songs group by 1) c where c.album_id = a.id`,
  );
  // Recent plays and popularity as the service derives them (the catalog's formula).
  await setAlbumRecentPlays(database, albumRecentPlays());
  for (const table of ['bench_events', 'bench_songs', 'bench_users', 'bench_artists', 'bench_genres']) {
    await run(database, `drop table ${table}`);
  }
}

async function registerDrivers(app: FastifyInstance): Promise<{ id: string; token: string }[]> {
  const drivers = [];
  for (let i = 0; i < DRIVERS; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        email: `driver-${i}@bench.test`,
        password: 'bench-password-123',
        displayName: `Driver ${i}`,
      },
    });
    const body = res.json();
    drivers.push({ id: body.user.id as string, token: body.accessToken as string });
  }
  return drivers;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

/** Median and p99 of `LATENCY_SAMPLES` sequential requests, after a short warm-up. */
async function latency(app: FastifyInstance, request: (i: number) => { url: string; token?: string }) {
  const timings: number[] = [];
  for (let i = -20; i < LATENCY_SAMPLES; i++) {
    const { url, token } = request(i + 20);
    const started = performance.now();
    const res = await app.inject({
      method: 'GET',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    if (i >= 0) timings.push(performance.now() - started);
  }
  timings.sort((a, b) => a - b);
  return { median: percentile(timings, 0.5), p99: percentile(timings, 0.99) };
}

async function main(): Promise<void> {
  const { database, url, drop } = await openScratch();
  const kind = url ? 'postgres' : 'pglite';
  log(`backbeat plays bench on ${kind}: ${SONGS} songs, ${PLAYS} plays, ${USERS} listeners`);
  const started = performance.now();
  await migrateDatabase(database, url);
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: join(tmpdir(), 'backbeat-bench-plays'),
    RATE_LIMIT_MAX: '1000000000',
    RATE_LIMIT_AUTH_MAX: '1000000000',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config, { database, cacheStore: createCacheStore(undefined) });
  try {
    await loadCatalog(database.db);
    const drivers = await registerDrivers(app);
    await bulkLoad(database, loadPlays);
    // Steady state: statistics, and the visibility map that index-only scans rely on.
    await run(database.db, 'vacuum analyze');
    log(`loaded in ${seconds(started)} s`);

    const listed = (await database.db.execute(
      sql.raw('select id from songs where listed order by play_count desc, id'),
    )) as unknown as {
      rows: { id: string }[];
    };
    const songIds = listed.rows.map((r) => r.id);
    const pick = <T>(items: T[], skew = 1) => items[Math.floor(Math.random() ** skew * items.length)]!;

    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const load = async (kind: LoadJob['kind']) => {
      const result = await driveLoad({
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        seconds: SECONDS,
        tokens: drivers.map((d) => d.token),
        kind,
        songIds,
      });
      return { ...result, rate: Math.round(result.requests.total / SECONDS) };
    };
    const ingestion = await load('plays');
    // The floor every signed-in request pays (auth, session lookup, hooks): for comparison.
    const floor = await load('me');

    const trending: Record<string, { median: number; p99: number }> = {};
    for (const w of ['24h', '7d', '30d']) {
      trending[w] = await latency(app, () => ({ url: `/api/v1/songs/trending?window=${w}` }));
    }
    const recommendations = await latency(app, (i) => ({
      url: '/api/v1/me/recommendations',
      token: drivers[i % drivers.length]!.token,
    }));
    const similar = await latency(app, () => ({ url: `/api/v1/songs/${pick(songIds, 2)}/similar` }));
    // The daily recount of popularity, worst case: every album's recent plays rewritten.
    await run(database.db, 'update albums set recent_play_count = 0');
    const recomputeStarted = performance.now();
    const recomputed = await withTx(database.db, (tx) => setAlbumRecentPlays(tx, albumRecentPlays()));
    const recomputeMs = performance.now() - recomputeStarted;

    const row = (name: string, value: string) => log(`| ${name.padEnd(34)} | ${value.padStart(26)} |`);
    const ms = (l: { median: number; p99: number }) => `${l.median.toFixed(1)} / ${l.p99.toFixed(1)} ms`;
    log(`\n| ${kind.padEnd(34)} | ${'value'.padStart(26)} |`);
    log(`| ${'-'.repeat(34)} | ${'-'.repeat(26)} |`);
    row(`POST /songs/:id/plays (${CONNECTIONS} conn, ${SECONDS} s)`, `${ingestion.rate} req/s`);
    row('  latency median / p99', `${ingestion.latency.p50} / ${ingestion.latency.p99} ms`);
    row('  non-2xx / errors', `${ingestion.non2xx} / ${ingestion.errors}`);
    row('  for comparison: GET /me', `${floor.rate} req/s`);
    for (const [w, l] of Object.entries(trending)) row(`GET /songs/trending?window=${w}`, ms(l));
    row('GET /me/recommendations', ms(recommendations));
    row('GET /songs/:id/similar', ms(similar));
    row(`popularity recount (${recomputed.length} albums)`, `${recomputeMs.toFixed(0)} ms`);
    log(`(median / p99 of ${LATENCY_SAMPLES} sequential requests each, through app.inject)`);
  } finally {
    await app.close();
    await database.close();
    await drop();
  }
}

await main();
