import { describe, expect, it } from 'vitest';
import { admin, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeSong, unique } from '../../../test/factories.js';
import { call, register, type Session } from '../../../test/helpers.js';

useAppWithAdminAndUser();

const get = async (url: string, session?: Session) => {
  const res = await call(t.app, 'GET', url, { session });
  expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
};

/** Catalog writes reach the analytics cache through the outbox: publish what is committed. */
const settle = () => t.app.services.events.relay.drain();

const follow = async (session: Session, albumId: string) =>
  expect((await call(t.app, 'PUT', `/api/v1/me/following/albums/${albumId}`, { session })).status).toBe(204);

describe('GET /stats/top-albums', () => {
  it('ranks visible albums of a genre by followers, 1, 2, 3 with ties by id', async () => {
    const genre = unique('Shoegaze');
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => makeAlbum(t.app, admin, { genre })));
    const hidden = await makeAlbum(t.app, admin, { genre: genre.toUpperCase() });
    const fans = await Promise.all([1, 2, 3].map(() => register(t.app)));
    for (const fan of fans) await follow(fan, a.id);
    for (const fan of fans) await follow(fan, hidden.id);
    await follow(fans[0]!, b.id);
    await follow(fans[1]!, c.id);
    await call(t.app, 'PATCH', `/api/v1/albums/${hidden.id}`, { session: admin, body: { isVisible: false } });
    await settle();

    const body = await get(`/api/v1/stats/top-albums?genre=${genre.toLowerCase()}`);
    const tied = [b.id, c.id].sort();
    expect(
      body.items.map((i: { rank: number; followerCount: number; album: { id: string } }) => [
        i.rank,
        i.followerCount,
        i.album.id,
      ]),
    ).toEqual([
      [1, 3, a.id],
      [2, 1, tied[0]],
      [3, 1, tied[1]],
      [4, 0, d.id],
    ]);
    expect(body.items[0].album).toMatchObject({ id: a.id, title: a.title, genre, followerCount: 3 });
    expect(body.items[0].album).not.toHaveProperty('isVisible');
    expect((await get(`/api/v1/stats/top-albums?genre=${genre}&limit=2`)).items).toHaveLength(2);
  });

  it('ranks across every genre without a filter', async () => {
    const album = await makeAlbum(t.app, admin, { genre: unique('Niche') });
    const fans = await Promise.all([1, 2, 3, 4, 5].map(() => register(t.app)));
    for (const fan of fans) await follow(fan, album.id);
    await settle();
    const { items } = await get('/api/v1/stats/top-albums?limit=100');
    expect(items[0]).toMatchObject({ rank: 1, followerCount: 5, album: { id: album.id } });
    expect(items.map((i: { rank: number }) => i.rank)).toEqual(items.map((_: unknown, i: number) => i + 1));
  });

  it('validates its query', async () => {
    for (const query of ['limit=0', 'limit=101', 'genre=', 'offset=1']) {
      expect((await call(t.app, 'GET', `/api/v1/stats/top-albums?${query}`)).status, query).toBe(400);
    }
  });
});

describe('GET /stats/genres', () => {
  it('counts visible albums and songs per genre case-insensitively, named as most albums spell it', async () => {
    const base = unique('Dream Pop');
    const [mostly, other, shouted] = [base, base.toLowerCase(), base.toUpperCase()];
    const one = await makeAlbum(t.app, admin, { genre: mostly });
    const two = await makeAlbum(t.app, admin, { genre: mostly });
    const three = await makeAlbum(t.app, admin, { genre: other });
    const hidden = await makeAlbum(t.app, admin, { genre: shouted, isPublic: false });
    for (const album of [one, one, two, three, hidden, hidden]) await makeSong(t.app, admin, album.id);
    // A song may have its own genre: it counts there, its album does not.
    const songOnly = unique('Interlude');
    await makeSong(t.app, admin, one.id, { genre: songOnly });
    await makeSong(t.app, admin, two.id, { genre: songOnly.toUpperCase() });
    await settle();

    const { items } = await get('/api/v1/stats/genres');
    const find = (name: string) =>
      items.filter((i: { genre: string }) => i.genre.toLowerCase() === name.toLowerCase());
    expect(find(base)).toEqual([{ genre: mostly, albumCount: 3, songCount: 4 }]);
    expect(find(songOnly)).toHaveLength(1);
    expect(find(songOnly)[0]).toMatchObject({ albumCount: 0, songCount: 2 });
    expect([songOnly, songOnly.toUpperCase()]).toContain(find(songOnly)[0].genre);
  });

  it('follows catalog writes (cached, invalidated by catalog events)', async () => {
    const genre = unique('Krautrock');
    const album = await makeAlbum(t.app, admin, { genre });
    await settle();
    const count = async () =>
      (await get('/api/v1/stats/genres')).items.find((i: { genre: string }) => i.genre === genre)
        ?.albumCount ?? 0;
    expect(await count()).toBe(1);
    await makeAlbum(t.app, admin, { genre });
    await settle();
    expect(await count()).toBe(2);
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: false } });
    await settle();
    expect(await count()).toBe(1);
    expect((await call(t.app, 'GET', '/api/v1/stats/genres?x=1')).status).toBe(400);
  });
});

describe('GET /stats/artists/:id/timeline', () => {
  it("counts an artist's visible albums per release year, ascending", async () => {
    const artist = await makeArtist(t.app, admin);
    for (const [releaseYear, isPublic] of [
      [2001, true],
      [1999, true],
      [2001, true],
      [2003, false],
      [1997, true],
    ] as const) {
      await makeAlbum(t.app, admin, { artistId: artist.id, releaseYear, isPublic });
    }
    await makeAlbum(t.app, admin, { releaseYear: 1999 });
    await settle();
    expect(await get(`/api/v1/stats/artists/${artist.id}/timeline`)).toEqual({
      artist: { id: artist.id, name: artist.name },
      items: [
        { year: 1997, albumCount: 1 },
        { year: 1999, albumCount: 1 },
        { year: 2001, albumCount: 2 },
      ],
    });
  });

  it('is empty for an artist without albums and 404 for one the caller may not see', async () => {
    const artist = await makeArtist(t.app, admin);
    expect((await get(`/api/v1/stats/artists/${artist.id}/timeline`)).items).toEqual([]);
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    const user = await register(t.app);
    const res = await call(t.app, 'GET', `/api/v1/stats/artists/${artist.id}/timeline`, { session: user });
    expect(res.status).toBe(404);
    expect((await get(`/api/v1/stats/artists/${artist.id}/timeline`, admin)).artist.id).toBe(artist.id);
    const unknown = '0190f5f3-0000-7000-8000-000000000000';
    expect((await call(t.app, 'GET', `/api/v1/stats/artists/${unknown}/timeline`)).status).toBe(404);
    expect((await call(t.app, 'GET', '/api/v1/stats/artists/nope/timeline')).status).toBe(400);
  });
});
