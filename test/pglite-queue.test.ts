import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import {
  countPgliteQueue,
  type Database,
  fromPglite,
  migrateDatabase,
  PGLITE_EXTENSIONS,
} from '../src/platform/db.js';
import { TEST_JWT_SECRET } from './helpers.js';

// The bound belongs to the embedded database: these tests open their own PGlite on either leg.
describe('the PGlite queue count', () => {
  let client: PGlite;
  beforeAll(async () => {
    client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  });
  afterAll(() => client.close());

  it('counts statements while they wait and run, refuses none, and counts a failed one as done', async () => {
    const queue = countPgliteQueue(client);
    const running = Array.from({ length: 6 }, () => queue.client.query('select 1 as one'));
    expect(queue.outstanding()).toBe(6);
    const results = await Promise.all(running);
    expect(results.every((r) => (r.rows[0] as { one: number }).one === 1)).toBe(true);
    expect(queue.outstanding()).toBe(0);
    await expect(queue.client.query('select * from no_such_table')).rejects.toThrow();
    expect(queue.outstanding()).toBe(0);
  });

  it('counts a transaction once, with its statements inside it', async () => {
    const queue = countPgliteQueue(client);
    const sums = queue.client.transaction(async (tx) => {
      const rows = [];
      for (let i = 0; i < 5; i++) rows.push((await tx.query<{ n: number }>(`select ${i} as n`)).rows[0]!.n);
      return rows;
    });
    expect(queue.outstanding()).toBe(1);
    expect(await sums).toEqual([0, 1, 2, 3, 4]);
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

  it('lets an admitted request finish however deep the queue gets meanwhile', async () => {
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => app.inject({ method: 'GET', url: `/api/v1/albums?q=busy${i}` })),
    );
    // Every request was either served whole or refused at its start; none failed half-way.
    expect(responses.every((r) => r.statusCode === 200 || r.statusCode === 503)).toBe(true);
    expect(responses.some((r) => r.statusCode === 200)).toBe(true);
  });
});
