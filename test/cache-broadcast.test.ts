import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ALBUM_LISTS_TAG } from '../src/modules/catalog/index.js';
import { createCacheStore } from '../src/platform/cache.js';
import { makeAlbum, unique } from './factories.js';
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

  it("leaves no process's album directory answering after a write on one process", async () => {
    const [a, b] = nodes as [FastifyInstance, FastifyInstance];
    const admin = await createAdmin(a);
    const genre = unique('genre');
    await makeAlbum(a, admin, { genre });
    const directory = b.services.catalog.albumDirectory;
    const stampOf = (app: FastifyInstance) => app.services.cache.stamp([ALBUM_LISTS_TAG]);
    const query = {
      scope: { kind: 'listed' as const },
      genres: [genre.toLowerCase()],
      sort: { field: 'title' as const, descending: false },
      limit: 20,
      offset: 0,
    };
    // b's directory is current and answers the page (built again if a's invalidations for the
    // first album arrived after a build had read the version).
    let before = '';
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      await directory.refresh();
      before = await stampOf(b);
      if (directory.page(before, query)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(directory.page(before, query)?.total).toBe(1);

    await makeAlbum(a, admin, { genre });
    // Once a's invalidation reaches b, b's pages count the new album: never the directory's old
    // answer (each URL is new to b, so it is not a cached response either).
    const deadline = Date.now() + 5_000;
    let total = 0;
    for (let limit = 1; total !== 2 && Date.now() < deadline; limit++) {
      total = (await call(b, 'GET', `/api/v1/albums?genre=${genre}&sort=title&limit=${limit}`)).body.total;
      if (total !== 2) await new Promise((r) => setTimeout(r, 50));
    }
    expect(total).toBe(2);
    expect(await stampOf(b)).not.toBe(before);
    expect(directory.page(await stampOf(b), query)).toBeUndefined();
  });
});
