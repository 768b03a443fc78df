import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import { GATEWAY_HEADER, gatewayProof } from '../src/platform/gateway-trust.js';
import { enqueueJob } from '../src/platform/jobs.js';
import { buildTestApp, call, deleteNatsStream, TEST_JWT_SECRET, type TestApp } from './helpers.js';

/** A process serving some roles only; its events go over NATS (connected in the background). */
let catalogOnly: TestApp;
const NATS_URL = 'nats://127.0.0.1:4222';
const NATS_STREAM = `bbtest_roles_${randomBytes(4).toString('hex')}`;
beforeAll(async () => {
  catalogOnly = await buildTestApp({ SERVICES: 'catalog', NATS_URL, NATS_STREAM, RATE_LIMIT_MAX: '3' });
});
afterAll(async () => {
  await catalogOnly.close();
  await deleteNatsStream(NATS_URL, NATS_STREAM);
});

describe('SERVICES picks the routes a process mounts', () => {
  it('serves its own roles and answers 404 problem+json for the others', async () => {
    expect((await call(catalogOnly.app, 'GET', '/api/v1/albums')).status).toBe(200);
    const identity = await call(catalogOnly.app, 'GET', '/api/v1/me');
    expect(identity.status).toBe(404);
    expect(identity.body.code).toBe('ROUTE_NOT_FOUND');
    expect((await call(catalogOnly.app, 'GET', '/api/v1/stats/genres')).status).toBe(404);
  });

  it('lists its roles in /health/ready', async () => {
    const ready = await call(catalogOnly.app, 'GET', '/health/ready');
    expect(ready.body.roles).toEqual(['catalog']);
  });
});

describe('the worker role', () => {
  it('runs the jobs; a process without it only enqueues them', async () => {
    // A worker process on the same database as the catalog-only one.
    const worker = await buildApp(
      loadConfig({
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        SERVICES: 'worker',
        NATS_URL,
        NATS_STREAM,
      }),
      { database: catalogOnly.database, cacheStore: createCacheStore(undefined) },
    );
    await worker.ready();
    try {
      const ranOn: string[] = [];
      for (const [name, app] of [
        ['catalog', catalogOnly.app],
        ['worker', worker],
      ] as const) {
        app.services.jobs.register('test.roles', {
          concurrency: 1,
          run: async () => {
            ranOn.push(name);
          },
        });
      }
      for (let i = 0; i < 3; i++) await enqueueJob(catalogOnly.database.db, 'test.roles', { i });
      catalogOnly.app.services.jobs.wake();
      await worker.services.jobs.idle(['test.roles'], 15_000);
      expect(ranOn).toEqual(['worker', 'worker', 'worker']);
    } finally {
      await worker.close();
    }
  });
});

describe('requests through the gateway', () => {
  const proof = { [GATEWAY_HEADER]: gatewayProof(TEST_JWT_SECRET) };

  it('are rate limited once, by the gateway, and others by the service', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await call(catalogOnly.app, 'GET', '/api/v1/albums', { headers: proof })).status).toBe(200);
    }
    const forged = { [GATEWAY_HEADER]: gatewayProof('some-other-secret-that-is-long-enough-000') };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await call(catalogOnly.app, 'GET', '/api/v1/albums', { headers: forged })).status);
    }
    expect(statuses).toContain(429);
  });
});
