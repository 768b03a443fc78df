import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, call, login, type TestApp } from '../../../test/helpers.js';
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
  });

describe('demo catalog', () => {
  it('loads into an empty catalog in a few seconds, with working demo accounts', async () => {
    const before = await call(t.app, 'GET', '/api/v1/albums');
    expect(before.body.total).toBe(0);

    const started = performance.now();
    const demo = await load();
    expect(performance.now() - started).toBeLessThan(10_000);
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
  });

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

  it('loads nothing into a catalog that has content', async () => {
    expect(await load()).toBeNull();
    expect((await call(t.app, 'GET', '/api/v1/artists')).body.total).toBe(50);
  });
});
