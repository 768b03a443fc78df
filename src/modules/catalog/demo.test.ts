import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, call, login, type TestApp } from '../../../test/helpers.js';
import { addDemoActivity } from '../../demo-activity.js';
import { loadDemoCatalog } from './index.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

const load = () =>
  loadDemoCatalog({
    db: t.database.db,
    cache: t.app.services.cache,
    ensureAccount: t.app.services.identity.ensureAccount,
    addActivity: addDemoActivity,
  });

let loaded: Awaited<ReturnType<typeof load>>;

describe('demo catalog', () => {
  // How long the load takes is bench/startup.sh's business (a fresh DATA_DIR's cold start):
  // under coverage on a shared machine it took 13.6 s, so no bound on time here.
  it('loads into an empty catalog, with working demo accounts', async () => {
    const before = await call(t.app, 'GET', '/api/v1/albums');
    expect(before.body.total).toBe(0);

    const demo = await load();
    loaded = demo;
    expect(demo).toMatchObject({ artists: 50, albums: 200, songs: 2000 });
    expect(demo!.accounts.map((a) => a.role)).toEqual(['admin', 'artist', 'user']);

    // The empty list read above was cached: the load must have invalidated it.
    expect((await call(t.app, 'GET', '/api/v1/albums')).body.total).toBe(192);
    const admin = await login(t.app, demo!.accounts[0]!.email, demo!.accounts[0]!.password);
    const all = await call(t.app, 'GET', '/api/v1/albums?visibility=all&limit=100', { session: admin });
    expect(all.body.total).toBe(200);
    const songs = await call(t.app, 'GET', '/api/v1/songs?visibility=all', { session: admin });
    expect(songs.body.total).toBe(2000);
    expect((await call(t.app, 'GET', '/api/v1/artists')).body.total).toBe(50);

    const artist = await login(t.app, demo!.accounts[1]!.email, demo!.accounts[1]!.password);
    const me = await call(t.app, 'GET', '/api/v1/me', { session: artist });
    expect(me.body).toMatchObject({ role: 'artist' });
    const own = await call(t.app, 'GET', `/api/v1/artists/${me.body.artistId}/albums`, { session: artist });
    expect(own.body.total).toBe(4);
    await login(t.app, demo!.accounts[2]!.email, demo!.accounts[2]!.password);
  }, 60_000);

  it('spreads albums over 12 genres and 40 years, with consistent counters', async () => {
    const genres = new Set<string>();
    const years = new Set<number>();
    for (let offset = 0; offset < 200; offset += 100) {
      const page = await call(t.app, 'GET', `/api/v1/albums?limit=100&offset=${offset}`);
      for (const album of page.body.items) {
        genres.add(album.genre);
        years.add(album.releaseYear);
        expect(album.songCount).toBe(10);
      }
    }
    expect(genres.size).toBe(12);
    expect(Math.min(...years)).toBeGreaterThanOrEqual(1985);
    expect(Math.max(...years)).toBeLessThanOrEqual(2024);
    expect(years.size).toBeGreaterThan(25);
    const album = (await call(t.app, 'GET', '/api/v1/albums?limit=1')).body.items[0];
    const detail = await call(t.app, 'GET', `/api/v1/albums/${album.id}`);
    expect(detail.body.durationMs).toBe(
      detail.body.songs.reduce((sum: number, s: { durationMs: number }) => sum + s.durationMs, 0),
    );
  });

  it('comes with listening activity: popularity, top albums and trending mean something', async () => {
    const byPopularity = await call(t.app, 'GET', '/api/v1/albums?sort=-popularity&limit=100');
    const scores = byPopularity.body.items.map((a: { popularity: number }) => a.popularity);
    expect(scores[0]).toBeGreaterThan(20);
    // Skewed, not flat: hits, a middle, and albums nobody played.
    expect(new Set(scores).size).toBeGreaterThan(5);
    expect(scores.at(-1)).toBeLessThan(scores[0]);

    const top = await call(t.app, 'GET', '/api/v1/stats/top-albums?limit=5');
    const followers = top.body.items.map((i: { followerCount: number }) => i.followerCount);
    expect(followers[0]).toBeGreaterThan(5);
    expect(followers).toEqual([...followers].sort((x, y) => y - x));
    const hit = await call(t.app, 'GET', `/api/v1/albums/${top.body.items[0].album.id}`);
    expect(hit.body.followerCount).toBe(followers[0]);
    expect(hit.body.songs.some((song: { playCount: number }) => song.playCount > 0)).toBe(true);

    for (const window of ['24h', '7d', '30d']) {
      const trending = await call(t.app, 'GET', `/api/v1/songs/trending?window=${window}&limit=5`);
      expect(trending.status).toBe(200);
      expect(trending.body.items.length).toBeGreaterThan(0);
    }

    // Listeners exist to listen: nobody can sign in as one.
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: 'listener-1@backbeat.example', password: '!demo-listener' },
    });
    expect(res.status).toBe(401);
  });

  it('generates the same activity on every load (seeded)', async () => {
    const again = await buildTestApp();
    try {
      const demo = await loadDemoCatalog({
        db: again.database.db,
        cache: again.app.services.cache,
        ensureAccount: again.app.services.identity.ensureAccount,
        addActivity: addDemoActivity,
      });
      const first = await call(t.app, 'GET', '/api/v1/stats/top-albums?limit=10');
      const second = await call(again.app, 'GET', '/api/v1/stats/top-albums?limit=10');
      const shape = (body: { items: { followerCount: number; album: { title: string } }[] }) =>
        body.items.map((i) => [i.album.title, i.followerCount]);
      expect(shape(second.body)).toEqual(shape(first.body));
      expect(demo!.activity).toEqual(loaded!.activity);
    } finally {
      await again.close();
    }
  }, 120_000);

  it('loads nothing into a catalog that has content', async () => {
    expect(await load()).toBeNull();
    expect((await call(t.app, 'GET', '/api/v1/artists')).body.total).toBe(50);
  });
});
