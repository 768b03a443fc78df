/**
 * Notifications at scale, through the real app:
 *   npx tsx bench/notifications.ts                # embedded PGlite (in memory)
 *   DATABASE_URL=postgres://... npx tsx bench/notifications.ts   # a scratch database on that server
 *   ... bench/notifications.ts --adds 200 --reads 200   # more samples (for a p99)
 * Bulk-loads an album with 100,000 followers and a user who follows 1,000 albums (10 songs each,
 * half added after the follow), then measures: adding a song to the 100k-follower album (request
 * latency), the 1,000-album user's feed (request latency), and the delay from a song write's
 * response to its Server-Sent Event on a listening server.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import { type Database, fromPglite, fromPostgres, migrateDatabase, openPglite } from '../src/platform/db.js';

const FOLLOWERS = 100_000;
const FOLLOWED_ALBUMS = 1_000;
const SONGS_PER_ALBUM = 10;
const { values: options } = parseArgs({
  options: { adds: { type: 'string', default: '20' }, reads: { type: 'string', default: '50' } },
});
/** Songs added to the 100k-follower album, one at a time. */
const SONG_ADDS = Number(options.adds);
/** Reads of the 1,000-album feed, one at a time. */
const FEED_READS = Number(options.reads);
const SSE_ROUNDS = 20;

/** A fresh database: PGlite in memory, or a scratch database on DATABASE_URL's server. */
async function openScratch(): Promise<{ database: Database; label: string; drop: () => Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const database = fromPglite(await openPglite(undefined));
    await migrateDatabase(database);
    return { database, label: 'PGlite (in memory)', drop: async () => {} };
  }
  const name = `backbeat_bench_notifications_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const database = fromPostgres(url.toString());
  await migrateDatabase(database, url.toString());
  return {
    database,
    label: `PostgreSQL (${url.host})`,
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!;
};

async function main() {
  const started = performance.now();
  const { database, label, drop } = await openScratch();
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
    DATA_DIR: join(tmpdir(), 'backbeat-bench-notifications'),
    RATE_LIMIT_MAX: '100000000',
    RATE_LIMIT_AUTH_MAX: '100000000',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { database, cacheStore: createCacheStore(undefined) });
  try {
    await app.ready();
    const { db } = database;
    const json = async (method: 'GET' | 'POST' | 'PUT', url: string, token?: string, payload?: unknown) => {
      const res = await app.inject({
        method,
        url,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.body ? res.json() : undefined;
    };
    const signUp = async (email: string) =>
      (
        await json('POST', '/api/v1/auth/register', undefined, {
          email,
          password: 'bench-password-2026',
          displayName: 'Bench',
        })
      ).accessToken as string;

    await app.services.identity.ensureAdmin('admin@bench.test', 'bench-admin-password');
    const adminToken = (
      await json('POST', '/api/v1/auth/login', undefined, {
        email: 'admin@bench.test',
        password: 'bench-admin-password',
      })
    ).accessToken as string;

    // --- Dataset -------------------------------------------------------------------------
    const loadStarted = performance.now();
    const artist = await json('POST', '/api/v1/artists', adminToken, { name: 'Bench Artist' });
    const hot = await json('POST', '/api/v1/albums', adminToken, {
      title: 'Hot Album',
      artistId: artist.id,
      genre: 'Rock',
      releaseYear: 2026,
    });
    await db.execute(sql`
      insert into users (email, username, password_hash, display_name, id)
      select 'follower-' || g || '@bench.test', 'follower-' || g, 'not-a-hash', 'Follower', gen_random_uuid()
        from generate_series(1, ${FOLLOWERS}) g`);
    await db.execute(sql`
      insert into album_follows (user_id, album_id, created_at)
      select id, ${hot.id}::uuid, now() - interval '1 day' from users where email like 'follower-%'`);
    await db.execute(sql`update albums set follower_count = ${FOLLOWERS} where id = ${hot.id}::uuid`);

    const reader = await signUp('reader@bench.test');
    const readerId = (await json('GET', '/api/v1/me', reader)).id as string;
    await db.execute(sql`
      insert into albums (id, artist_id, artist_name, title, genre, release_year, created_at)
      select gen_random_uuid(), ${artist.id}::uuid, ${artist.name}, 'Followed ' || g, 'Rock', 2020,
             now() - interval '10 days'
        from generate_series(1, ${FOLLOWED_ALBUMS}) g`);
    // Half of each album's songs came before the follow, half after: the feed must tell them apart.
    await db.execute(sql`
      insert into songs (album_id, artist_id, artist_name, title, track_number, duration_ms, genre, release_year,
                         created_at, id)
      select a.id, a.artist_id, a.artist_name, a.title || ' #' || t, t, 200000, 'Rock', a.release_year,
             case when t <= ${SONGS_PER_ALBUM / 2} then now() - interval '5 days'
                  else now() - interval '2 days' + (row_number() over ()) * interval '1 second' end,
             gen_random_uuid()
        from albums a cross join generate_series(1, ${SONGS_PER_ALBUM}) t
       where a.title like 'Followed %'`);
    await db.execute(sql`
      insert into album_follows (user_id, album_id, created_at)
      select ${readerId}::uuid, id, now() - interval '3 days' from albums where title like 'Followed %'`);
    await db.execute(sql`analyze`);
    const loadMs = performance.now() - loadStarted;

    // --- Adding a song to the album with 100k followers ---------------------------------------
    const addMs: number[] = [];
    for (let i = 0; i < SONG_ADDS; i++) {
      const t0 = performance.now();
      await json('POST', `/api/v1/albums/${hot.id}/songs`, adminToken, {
        title: `Hot ${i}`,
        durationMs: 180000,
      });
      addMs.push(performance.now() - t0);
    }

    // --- The feed of a user following 1,000 albums --------------------------------------------
    const first = await json('GET', '/api/v1/me/notifications?limit=20', reader);
    const feedMs: number[] = [];
    for (let i = 0; i < FEED_READS; i++) {
      const t0 = performance.now();
      await json('GET', '/api/v1/me/notifications?limit=20', reader);
      feedMs.push(performance.now() - t0);
    }
    const secondPage = await json(
      'GET',
      `/api/v1/me/notifications?limit=20&cursor=${encodeURIComponent(first.nextCursor)}`,
      reader,
    );

    // --- Write to Server-Sent Event -----------------------------------------------------------
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const listener = await signUp('listener@bench.test');
    await json('PUT', `/api/v1/me/following/albums/${hot.id}`, listener);
    const controller = new AbortController();
    const stream = await fetch(`${baseUrl}/api/v1/me/notifications/stream`, {
      headers: { authorization: `Bearer ${listener}` },
      signal: controller.signal,
    });
    const events = stream.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const nextEventAt = async (): Promise<number> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes('event: notification')) return performance.now();
          continue;
        }
        const { done, value } = await events.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const sseMs: number[] = [];
    for (let i = 0; i < SSE_ROUNDS; i++) {
      const arrival = nextEventAt();
      await json('POST', `/api/v1/albums/${hot.id}/songs`, adminToken, {
        title: `Live ${i}`,
        durationMs: 180000,
      });
      const written = performance.now();
      sseMs.push((await arrival) - written);
    }
    controller.abort();

    const row = (what: string, samples: number[]) =>
      `| ${what} | ${samples.length} | ${median(samples).toFixed(1)} | ${percentile(samples, 0.95).toFixed(1)} | ${percentile(samples, 0.99).toFixed(1)} |`;
    console.log(`\nNotifications benchmark on ${label}, ${new Date().toISOString()}`);
    console.log(
      `dataset: album with ${FOLLOWERS.toLocaleString('en')} followers; reader follows ` +
        `${FOLLOWED_ALBUMS.toLocaleString('en')} albums x ${SONGS_PER_ALBUM} songs ` +
        `(${first.unreadCount.toLocaleString('en')} notifications); loaded in ${(loadMs / 1000).toFixed(1)} s\n`,
    );
    console.log('| measurement | runs | median ms | p95 ms | p99 ms |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(row('POST /albums/:id/songs, album with 100k followers', addMs));
    console.log(row('GET /me/notifications?limit=20, user following 1,000 albums', feedMs));
    console.log(row('write response -> SSE event (listening server)', sseMs));
    console.log(
      `\nsecond feed page: ${secondPage.items.length} items; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  } finally {
    await app.close();
    await database.close();
    await drop();
  }
}

await main();
