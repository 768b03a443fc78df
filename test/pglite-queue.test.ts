import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import {
  boundPgliteQueue,
  type Database,
  DatabaseBusyError,
  fromPglite,
  migrateDatabase,
  PGLITE_EXTENSIONS,
} from '../src/platform/db.js';
import { TEST_JWT_SECRET } from './helpers.js';

// The bound belongs to the embedded database: these tests open their own PGlite on either leg.
describe('the bounded PGlite queue', () => {
  let client: PGlite;
  beforeAll(async () => {
    client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  });
  afterAll(() => client.close());

  it('refuses statements past the bound at once, and admits new ones when the queue drains', async () => {
    const bounded = boundPgliteQueue(client, 2);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => bounded.query('select 1 as one')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(4);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseBusyError);
    await expect(bounded.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('never refuses the statements of a transaction that has started', async () => {
    const bounded = boundPgliteQueue(client, 1);
    const sums = await bounded.transaction(async (tx) => {
      const rows = [];
      for (let i = 0; i < 5; i++) rows.push((await tx.query<{ n: number }>(`select ${i} as n`)).rows[0]!.n);
      return rows;
    });
    expect(sums).toEqual([0, 1, 2, 3, 4]);
  });

  it('counts a statement that fails as done', async () => {
    const bounded = boundPgliteQueue(client, 1);
    await expect(bounded.query('select * from no_such_table')).rejects.toThrow();
    await expect(bounded.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
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

  it('answers 503 problem+json with Retry-After, and the others are served', async () => {
    // Distinct searches: none is answered from the cache, every one needs the database.
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => app.inject({ method: 'GET', url: `/api/v1/albums?q=busy${i}` })),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses).toContain(200);
    const busy = responses.filter((r) => r.statusCode === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(r.headers['retry-after']).toBe('1');
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      // Still a normal answer of the API: security headers and a request id.
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-request-id']).toBeDefined();
    }
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
  });
});
