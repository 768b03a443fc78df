import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createCacheStore } from '../src/platform/cache.js';
import { makeAlbum } from './factories.js';
import {
  buildTestApp,
  call,
  createAdmin,
  deleteNatsStream,
  TEST_JWT_SECRET,
  type TestApp,
} from './helpers.js';

/**
 * Two processes on one database, each with its own in-process cache (no Redis), joined by
 * NATS: a write on one must not leave the other serving what it cached before.
 */
const NATS_URL = 'nats://127.0.0.1:4222';
const NATS_STREAM = `bbtest_cache_${randomBytes(4).toString('hex')}`;
let base: TestApp;
const nodes: FastifyInstance[] = [];

beforeAll(async () => {
  base = await buildTestApp();
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, NATS_URL, NATS_STREAM });
  for (let i = 0; i < 2; i++) {
    const app = await buildApp(config, { database: base.database, cacheStore: createCacheStore(undefined) });
    await app.ready();
    nodes.push(app);
  }
  // Both connected to NATS.
  for (const app of nodes) {
    const deadline = Date.now() + 15_000;
    while ((await call(app, 'GET', '/health/ready')).body.checks.events !== 'ok') {
      if (Date.now() > deadline) throw new Error('NATS did not connect');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

afterAll(async () => {
  for (const app of nodes) await app.close();
  await base.close();
  await deleteNatsStream(NATS_URL, NATS_STREAM);
});

describe('in-process caches across processes (NATS, no Redis)', () => {
  it('drops on every process what a write on one process changed', async () => {
    const [a, b] = nodes as [FastifyInstance, FastifyInstance];
    const admin = await createAdmin(a);
    const album = await makeAlbum(a, admin);
    // Cached on b.
    expect((await call(b, 'GET', `/api/v1/albums/${album.id}`)).body.title).toBe(album.title);
    const patched = await call(a, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { title: 'Renamed on a' },
    });
    expect(patched.status).toBe(200);
    const deadline = Date.now() + 5_000;
    let title: string;
    do {
      title = (await call(b, 'GET', `/api/v1/albums/${album.id}`)).body.title;
      if (title === 'Renamed on a') break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    expect(title).toBe('Renamed on a');
  });
});
