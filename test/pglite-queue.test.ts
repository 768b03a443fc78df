import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import {
  type Database,
  DatabaseBusyError,
  enterRequestTurn,
  fromPglite,
  migrateDatabase,
  PGLITE_EXTENSIONS,
  type RequestTurn,
  schedulePglite,
} from '../src/platform/db.js';
import { TEST_JWT_SECRET } from './helpers.js';

// The bound belongs to the embedded database: these tests open their own PGlite on either leg.
describe('the PGlite queue', () => {
  let client: PGlite;
  beforeAll(async () => {
    client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  });
  afterAll(() => client.close());

  it('counts statements while they wait and run, refuses none, and counts a failed one as done', async () => {
    const queue = schedulePglite(client);
    const running = Array.from({ length: 6 }, () => queue.client.query('select 1 as one'));
    expect(queue.outstanding()).toBe(6);
    const results = await Promise.all(running);
    expect(results.every((r) => (r.rows[0] as { one: number }).one === 1)).toBe(true);
    expect(queue.outstanding()).toBe(0);
    await expect(queue.client.query('select * from no_such_table')).rejects.toThrow();
    expect(queue.outstanding()).toBe(0);
  });

  it('counts a transaction once, with its statements inside it', async () => {
    const queue = schedulePglite(client);
    const sums = queue.client.transaction(async (tx) => {
      const rows = [];
      for (let i = 0; i < 5; i++) rows.push((await tx.query<{ n: number }>(`select ${i} as n`)).rows[0]!.n);
      return rows;
    });
    expect(queue.outstanding()).toBe(1);
    expect(await sums).toEqual([0, 1, 2, 3, 4]);
    expect(queue.outstanding()).toBe(0);
  });

  /** A transaction that holds the queue until `release` is called. */
  function hold(queue: ReturnType<typeof schedulePglite>) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = queue.client.transaction(() => released);
    return { release, held };
  }

  it('runs the statements of the request that arrived first first, whatever order they were queued in', async () => {
    const queue = schedulePglite(client);
    const { release, held } = hold(queue);
    const now = performance.now();
    const older: RequestTurn = { arrivedAt: now - 2000, started: false };
    const newer: RequestTurn = { arrivedAt: now - 1000, started: false };
    const finished: string[] = [];
    const run = (name: string, turn: RequestTurn | undefined) =>
      enterRequestTurn(turn ?? { arrivedAt: now, started: false }, () =>
        queue.client.query('select 1').then(() => finished.push(name)),
      );
    const queued = [run('newer', newer), run('older', older), run('newest', undefined)];
    await vi.waitFor(() => expect(queue.outstanding()).toBe(4));
    release();
    await Promise.all([held, ...queued]);
    expect(finished).toEqual(['older', 'newer', 'newest']);
  });

  it('refuses a request that waited past the deadline before its first statement, and never one that started', async () => {
    const queue = schedulePglite(client, { maxWaitMs: 1000 });
    const longAgo = performance.now() - 5000;
    const waitedTooLong: RequestTurn = { arrivedAt: longAgo, started: false };
    const started: RequestTurn = { arrivedAt: longAgo, started: true };
    const fresh: RequestTurn = { arrivedAt: performance.now(), started: false };
    const refused = enterRequestTurn(waitedTooLong, () => queue.client.query('select 1'));
    await expect(refused).rejects.toBeInstanceOf(DatabaseBusyError);
    // Its other statements are refused too: nothing of it runs.
    await expect(
      enterRequestTurn(waitedTooLong, () => queue.client.query('select 1')),
    ).rejects.toBeInstanceOf(DatabaseBusyError);
    await expect(
      enterRequestTurn(started, () => queue.client.query('select 1 as one')),
    ).resolves.toMatchObject({
      rows: [{ one: 1 }],
    });
    await enterRequestTurn(fresh, () => queue.client.query('select 1'));
    expect(fresh.started).toBe(true);
    // A request past its deadline is answered as soon as the statement before it ends, not
    // after the statements of older requests that started (they go first).
    const { release, held } = hold(queue);
    const olderStarted: RequestTurn = { arrivedAt: longAgo - 1000, started: true };
    const first = enterRequestTurn(olderStarted, () => queue.client.query('select 1'));
    const late = enterRequestTurn({ arrivedAt: longAgo, started: false }, () =>
      queue.client.query('select 1'),
    );
    let lateSettled = false;
    late
      .catch(() => {})
      .finally(() => {
        lateSettled = true;
      });
    release();
    await held;
    await first;
    expect(lateSettled).toBe(true);
    await expect(late).rejects.toBeInstanceOf(DatabaseBusyError);
    // Work that is not a request (jobs, the outbox relay) is never refused.
    await expect(queue.client.query('select 1')).resolves.toBeDefined();
    expect(queue.outstanding()).toBe(0);
  });
});

describe('a request refused by the bounded queue', () => {
  let database: Database;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    const client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
    await migrateDatabase(fromPglite(client));
    // A page runs its rows and its count side by side: room for two requests at a time.
    database = fromPglite(client, () => {}, { maxQueued: 4 });
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      RATE_LIMIT_MAX: '1000000',
      DEMO_DATA: 'false',
    });
    app = await buildApp(config, { database, cacheStore: createCacheStore(undefined) });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await database.close();
  });

  it('answers 503 problem+json with Retry-After while the queue is deep, and serves again once it drains', async () => {
    // Four slow statements fill the queue (maxQueued 4) while a request arrives.
    const slow = Array.from({ length: 4 }, () =>
      database.db.execute(sql`select count(*) from generate_series(1, 2000000)`).then((r) => r),
    );
    await vi.waitFor(() => expect(database.queued!()).toBeGreaterThanOrEqual(4), { interval: 1 });
    const refused = await app.inject({ method: 'GET', url: '/api/v1/albums?q=busy' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    // Still a normal answer of the API: security headers and a request id.
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    expect(refused.headers['x-request-id']).toBeDefined();
    // Health is not shed: it says how the process is, busy or not.
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    await Promise.all(slow);
    const served = await app.inject({ method: 'GET', url: '/api/v1/albums?q=busy' });
    expect(served.statusCode).toBe(200);
  });

  it('answers 503 problem+json with Retry-After to a request that waited past PGLITE_QUEUE_TIMEOUT', async () => {
    const client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
    const slow = fromPglite(client, () => {}, { maxWaitMs: 50 });
    await migrateDatabase(slow);
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      RATE_LIMIT_MAX: '1000000',
      DEMO_DATA: 'false',
    });
    const waiting = await buildApp(config, { database: slow, cacheStore: createCacheStore(undefined) });
    await waiting.ready();
    try {
      // A transaction holds the database until the request has waited past the deadline.
      let release!: () => void;
      const held = slow.db.transaction(
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
          }),
      );
      await vi.waitFor(() => expect(release).toBeDefined());
      const late = waiting.inject({ method: 'GET', url: '/api/v1/albums?q=late' });
      // Its first statement is queued behind the transaction (background work may be queued
      // too, so the wait below is six times the deadline: the request has arrived well before).
      await vi.waitFor(() => expect(slow.queued!()).toBeGreaterThanOrEqual(2), { interval: 1 });
      const queuedAt = performance.now();
      await vi.waitFor(() => expect(performance.now() - queuedAt).toBeGreaterThan(300), { interval: 10 });
      release();
      await held;
      const refused = await late;
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await waiting.close();
      await slow.close();
    }
  });

  it('lets an admitted request finish however deep the queue gets meanwhile', async () => {
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => app.inject({ method: 'GET', url: `/api/v1/albums?q=busy${i}` })),
    );
    // Every request was either served whole or refused at its start; none failed half-way.
    expect(responses.every((r) => r.statusCode === 200 || r.statusCode === 503)).toBe(true);
    expect(responses.some((r) => r.statusCode === 200)).toBe(true);
  });
});
