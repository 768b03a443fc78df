import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, sortedIds, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call } from '../../../test/helpers.js';
import { outboxEvents } from '../../platform/events.js';
import { addSongPlays } from './index.js';

useAppWithAdminAndUser();

describe('adding songs', () => {
  it('appends with the next track number, the album genre and explicit false', async () => {
    const album = await makeAlbum(t.app, admin, { title: 'Blue Lines', genre: 'Trip Hop' });
    const res = await call(t.app, 'POST', `/api/v1/albums/${album.id}/songs`, {
      session: admin,
      body: { title: 'Safe from Harm', durationMs: 318_000 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/v1/songs/${res.body.id}`);
    expect(res.body).toMatchObject({
      title: 'Safe from Harm',
      album: { id: album.id, title: 'Blue Lines' },
      artist: album.artist,
      trackNumber: 1,
      durationMs: 318_000,
      genre: 'Trip Hop',
      explicit: false,
      playCount: 0,
      audio: { status: 'none' },
    });
    await makeSong(t.app, admin, album.id, { trackNumber: 5 });
    const next = await makeSong(t.app, admin, album.id, { genre: 'Dub', explicit: true });
    expect(next).toMatchObject({ trackNumber: 6, genre: 'Dub', explicit: true });
  });

  it('answers a taken track number with 409 and an unknown album with 404', async () => {
    const album = await makeAlbum(t.app, admin);
    await makeSong(t.app, admin, album.id, { trackNumber: 1 });
    const taken = await call(t.app, 'POST', `/api/v1/albums/${album.id}/songs`, {
      session: admin,
      body: { title: 'Dup', durationMs: 1000, trackNumber: 1 },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('TRACK_NUMBER_TAKEN');
    const missing = await call(t.app, 'POST', '/api/v1/albums/01890000-0000-7000-8000-000000000000/songs', {
      session: admin,
      body: { title: 'X', durationMs: 1000 },
    });
    expect(missing.status).toBe(404);
  });

  it('numbers concurrent appends without gaps or duplicates', async () => {
    const album = await makeAlbum(t.app, admin);
    const songs = await Promise.all([1, 2, 3, 4].map(() => makeSong(t.app, admin, album.id)));
    expect(songs.map((s) => s.trackNumber).sort()).toEqual([1, 2, 3, 4]);
    expect((await get(`/api/v1/albums/${album.id}`)).body.songCount).toBe(4);
  });

  it.each([
    [{ title: '' }, '/title'],
    [{ title: 't'.repeat(201) }, '/title'],
    [{ title: undefined }, '/title'],
    [{ durationMs: 0 }, '/durationMs'],
    [{ durationMs: 3_600_001 }, '/durationMs'],
    [{ durationMs: 1.5 }, '/durationMs'],
    [{ durationMs: undefined }, '/durationMs'],
    [{ trackNumber: 0 }, '/trackNumber'],
    [{ trackNumber: 1000 }, '/trackNumber'],
    [{ genre: '' }, '/genre'],
    [{ genre: 'g'.repeat(65) }, '/genre'],
    [{ explicit: 'maybe' }, '/explicit'],
    [{ playCount: 9 }, '/playCount'],
  ])('validates %j', async (fields, path) => {
    const album = await makeAlbum(t.app, admin);
    const res = await call(t.app, 'POST', `/api/v1/albums/${album.id}/songs`, {
      session: admin,
      body: { title: 'Valid', durationMs: 1000, ...fields },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('records song events in the outbox', async () => {
    const album = await makeAlbum(t.app, admin);
    const song = await makeSong(t.app, admin, album.id);
    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, { session: admin, body: { title: 'New' } });
    await call(t.app, 'DELETE', `/api/v1/songs/${song.id}`, { session: admin });
    const rows = await t.database.db
      .select({ type: outboxEvents.type, payload: outboxEvents.payload })
      .from(outboxEvents)
      .where(sql`${outboxEvents.payload}->>'songId' = ${song.id}`)
      .orderBy(outboxEvents.id);
    const payload = { songId: song.id, albumId: album.id, artistId: album.artist.id };
    expect(rows).toEqual([
      { type: 'catalog.song_added', payload },
      { type: 'catalog.song_updated', payload },
      { type: 'catalog.song_deleted', payload },
    ]);
  });
});

describe('changing and deleting songs', () => {
  it('patches fields and refuses a taken track number', async () => {
    const album = await makeAlbum(t.app, admin);
    const first = await makeSong(t.app, admin, album.id);
    const second = await makeSong(t.app, admin, album.id);
    const res = await call(t.app, 'PATCH', `/api/v1/songs/${second.id}`, {
      session: admin,
      body: { title: 'Renamed', explicit: true, genre: 'Noise', trackNumber: 9 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ title: 'Renamed', explicit: true, genre: 'Noise', trackNumber: 9 });
    const taken = await call(t.app, 'PATCH', `/api/v1/songs/${second.id}`, {
      session: admin,
      body: { trackNumber: first.trackNumber },
    });
    expect(taken.status).toBe(409);
    const same = await call(t.app, 'PATCH', `/api/v1/songs/${second.id}`, {
      session: admin,
      body: { trackNumber: 9 },
    });
    expect(same.status).toBe(200);
    for (const body of [{}, { albumId: album.id }, { durationMs: -1 }]) {
      const bad = await call(t.app, 'PATCH', `/api/v1/songs/${second.id}`, { session: admin, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('deletes a song, leaving the other track numbers alone', async () => {
    const album = await makeAlbum(t.app, admin);
    const a = await makeSong(t.app, admin, album.id);
    const b = await makeSong(t.app, admin, album.id);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${a.id}`, { session: admin })).status).toBe(204);
    expect((await get(`/api/v1/songs/${a.id}`)).status).toBe(404);
    expect((await get(`/api/v1/songs/${b.id}`)).body.trackNumber).toBe(2);
    expect((await makeSong(t.app, admin, album.id)).trackNumber).toBe(3);
  });

  it('answers malformed ids with 400 and unknown ones with 404', async () => {
    expect((await get('/api/v1/songs/zzz')).status).toBe(400);
    expect(
      (await call(t.app, 'PATCH', '/api/v1/songs/zzz', { session: admin, body: { title: 'x' } })).status,
    ).toBe(400);
    const missing = await get('/api/v1/songs/01890000-0000-7000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('SONG_NOT_FOUND');
  });

  it('lets artist accounts manage only their own songs', async () => {
    const mine = await makeArtist(t.app, admin);
    const me = await makeArtistAccount(t.app, admin, mine.id);
    const myAlbum = await makeAlbum(t.app, admin, { artistId: mine.id });
    const theirAlbum = await makeAlbum(t.app, admin);
    const mySong = await makeSong(t.app, me, myAlbum.id);
    const theirSong = await makeSong(t.app, admin, theirAlbum.id);
    const own = await call(t.app, 'PATCH', `/api/v1/songs/${mySong.id}`, {
      session: me,
      body: { title: 'Mine' },
    });
    expect(own.status).toBe(200);
    const other = await call(t.app, 'PATCH', `/api/v1/songs/${theirSong.id}`, {
      session: me,
      body: { title: 'X' },
    });
    expect(other.status).toBe(403);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${theirSong.id}`, { session: me })).status).toBe(403);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${theirSong.id}`, { session: user })).status).toBe(
      403,
    );
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${theirSong.id}`)).status).toBe(401);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${mySong.id}`, { session: me })).status).toBe(204);
  });
});

describe('album songs page', () => {
  it('pages the songs in track order', async () => {
    const album = await makeAlbum(t.app, admin);
    for (const n of [3, 1, 2])
      await makeSong(t.app, admin, album.id, { trackNumber: n, title: `Track ${n}` });
    const first = await get(`/api/v1/albums/${album.id}/songs?limit=2`);
    expect(first.body).toMatchObject({ total: 3, limit: 2, offset: 0, previous: null });
    expect(first.body.items.map((s: { trackNumber: number }) => s.trackNumber)).toEqual([1, 2]);
    const second = await get(first.body.next);
    expect(second.body.items.map((s: { title: string }) => s.title)).toEqual(['Track 3']);
    expect(second.body.next).toBeNull();
    expect((await get(`/api/v1/albums/${album.id}/songs?limit=101`)).status).toBe(400);
    expect((await get(`/api/v1/albums/${album.id}/songs?sort=title`)).status).toBe(400);
  });
});

describe('browsing songs', () => {
  const genre = unique('Dream Pop');
  let albumA: { id: string; artist: { id: string } };
  let albumB: { id: string; artist: { id: string } };
  let made: { id: string; title: string; durationMs: number; createdAt: string; playCount: number }[];

  beforeAll(async () => {
    albumA = await makeAlbum(t.app, admin, { genre });
    albumB = await makeAlbum(t.app, admin, { genre: 'Other' });
    made = [
      await makeSong(t.app, admin, albumA.id, { title: 'teardrop', durationMs: 3000 }),
      await makeSong(t.app, admin, albumA.id, { title: 'Angel', durationMs: 1000 }),
      await makeSong(t.app, admin, albumA.id, { title: 'Black Milk', durationMs: 3000 }),
      await makeSong(t.app, admin, albumB.id, { title: 'Dissolved Girl', durationMs: 2000, genre }),
    ];
    await addSongPlays(
      t.database.db,
      new Map([
        [made[2]!.id, { plays: 12, recentPlays: 12 }],
        [made[3]!.id, { plays: 4, recentPlays: 4 }],
      ]),
    );
    made = await Promise.all(made.map(async (s) => (await get(`/api/v1/songs/${s.id}`)).body));
  });

  const list = (query: string) =>
    get(
      `/api/v1/songs?genre=${encodeURIComponent(genre)}&${query.includes('limit=') ? '' : 'limit=100&'}${query}`,
    );

  it('filters by genre (case-insensitive), albumId and artistId', async () => {
    expect((await get(`/api/v1/songs?genre=${encodeURIComponent(genre.toUpperCase())}`)).body.total).toBe(4);
    expect((await list(`albumId=${albumA.id}`)).body.total).toBe(3);
    expect(ids((await list(`artistId=${albumB.artist.id}`)).body)).toEqual([made[3]!.id]);
    expect((await get(`/api/v1/songs?albumId=${albumB.id}&genre=other`)).body.total).toBe(0);
  });

  it('finds songs by title with a typo', async () => {
    expect(ids((await get('/api/v1/songs?q=teardrp')).body)).toContain(made[0]!.id);
    expect(ids((await get('/api/v1/songs?q=dissolved%20girl')).body)[0]).toBe(made[3]!.id);
  });

  it('counts plays into playCount and the album popularity', async () => {
    expect(made[2]!.playCount).toBe(12);
    expect((await get(`/api/v1/albums/${albumA.id}`)).body.popularity).toBe(
      Math.floor(12 * Math.log(1 + 1.2)),
    );
  });

  it.each([
    ['title', (s: (typeof made)[number]) => s.title.toLowerCase()],
    ['createdAt', (s: (typeof made)[number]) => s.createdAt],
    ['playCount', (s: (typeof made)[number]) => s.playCount],
    ['durationMs', (s: (typeof made)[number]) => s.durationMs],
  ] as const)('sorts by %s both ways with ties by id ascending', async (field, key) => {
    for (const descending of [false, true]) {
      const expected = sortedIds(made, key, descending);
      expect(ids((await list(`sort=${descending ? '-' : ''}${field}`)).body), field).toEqual(expected);
    }
    expect(ids((await list('')).body)).toEqual(made.map((s) => s.id).reverse());
  });

  it('pages songs and rejects bad parameters', async () => {
    const first = await list('limit=3&sort=title');
    expect(first.body.items).toHaveLength(3);
    const second = await get(first.body.next);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.previous).toContain('offset=0');
    for (const query of ['sort=popularity', 'sort=-releaseYear', 'albumId=1', 'year=1800', 'limit=-1']) {
      expect((await get(`/api/v1/songs?${query}`)).status, query).toBe(400);
    }
  });

  it('refuses visibility= to non-admins', async () => {
    expect((await get('/api/v1/songs?visibility=all')).status).toBe(401);
    expect((await get('/api/v1/songs?visibility=all', user)).status).toBe(403);
    expect((await get('/api/v1/songs?visibility=all', admin)).status).toBe(200);
  });
});
