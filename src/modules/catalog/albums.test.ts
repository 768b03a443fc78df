import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, sortedIds, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call, type Session } from '../../../test/helpers.js';
import { outboxEvents } from '../../platform/events.js';
import { incrementAlbumFollowers } from './index.js';

useAppWithAdminAndUser();

describe('creating albums', () => {
  it('creates with defaults, Location and the artist reference', async () => {
    const artist = await makeArtist(t.app, admin);
    const res = await call(t.app, 'POST', '/api/v1/albums', {
      session: admin,
      body: { title: '  Kid A  ', artistId: artist.id, genre: 'Electronic', releaseYear: 2000 },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/v1/albums/${res.body.id}`);
    expect(res.body).toMatchObject({
      title: 'Kid A',
      artist: { id: artist.id, name: artist.name },
      genre: 'Electronic',
      releaseYear: 2000,
      releaseDate: null,
      coverUrl: null,
      label: null,
      isPublic: true,
      isVisible: true,
      songCount: 0,
      durationMs: 0,
      followerCount: 0,
      popularity: 0,
    });
    expect(res.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('links artistName to the existing artist case-insensitively, or creates it', async () => {
    const artist = await makeArtist(t.app, admin, { name: unique('Portishead') });
    const linked = await makeAlbum(t.app, admin, { artistName: artist.name.toUpperCase() });
    expect(linked.artist).toEqual({ id: artist.id, name: artist.name });

    const newName = unique('Brand New Artist');
    const first = await makeAlbum(t.app, admin, { artistName: newName });
    const second = await makeAlbum(t.app, admin, { artistName: newName.toLowerCase() });
    expect(first.artist.name).toBe(newName);
    expect(second.artist.id).toBe(first.artist.id);
    const page = await get(`/api/v1/artists?q=${encodeURIComponent(newName)}`);
    expect(page.body.items.filter((a: { name: string }) => a.name === newName)).toHaveLength(1);
  });

  it('creates one artist for one new name even under concurrent requests', async () => {
    const name = unique('Concurrent Artist');
    const results = await Promise.all([1, 2, 3].map(() => makeAlbum(t.app, admin, { artistName: name })));
    expect(new Set(results.map((a) => a.artist.id)).size).toBe(1);
  });

  it('rejects artistId and artistName together, and neither', async () => {
    const artist = await makeArtist(t.app, admin);
    const both = await call(t.app, 'POST', '/api/v1/albums', {
      session: admin,
      body: { title: 'X', genre: 'Rock', releaseYear: 2000, artistId: artist.id, artistName: artist.name },
    });
    expect(both.status).toBe(400);
    expect(both.body.errors).toEqual([{ path: '/artistName', message: 'cannot be combined with artistId' }]);
    const neither = await call(t.app, 'POST', '/api/v1/albums', {
      session: admin,
      body: { title: 'X', genre: 'Rock', releaseYear: 2000 },
    });
    expect(neither.status).toBe(400);
    expect(neither.body.errors[0].path).toBe('/artistId');
  });

  it('answers an unknown or hidden artistId with 400 UNKNOWN_ARTIST', async () => {
    const unknown = await call(t.app, 'POST', '/api/v1/albums', {
      session: admin,
      body: {
        title: 'X',
        genre: 'Rock',
        releaseYear: 2000,
        artistId: '01890000-0000-7000-8000-000000000000',
      },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('UNKNOWN_ARTIST');

    const hidden = await makeArtist(t.app, admin);
    await call(t.app, 'PATCH', `/api/v1/artists/${hidden.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    const own = await makeArtist(t.app, admin);
    const artistSession = await makeArtistAccount(t.app, admin, own.id);
    const res = await call(t.app, 'POST', '/api/v1/albums', {
      session: artistSession,
      body: { title: 'X', genre: 'Rock', releaseYear: 2000, artistId: hidden.id },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('UNKNOWN_ARTIST');
  });

  const valid = { title: 'Valid', genre: 'Rock', releaseYear: 2000 };
  it.each([
    [{ title: '' }, '/title'],
    [{ title: '   ' }, '/title'],
    [{ title: 'x'.repeat(201) }, '/title'],
    [{ title: 'nul\u0000byte' }, '/title'],
    [{ genre: '' }, '/genre'],
    [{ genre: 'g'.repeat(65) }, '/genre'],
    [{ genre: undefined }, '/genre'],
    [{ releaseYear: 1899 }, '/releaseYear'],
    [{ releaseYear: 2101 }, '/releaseYear'],
    [{ releaseYear: 1999.5 }, '/releaseYear'],
    [{ releaseYear: 'soon' }, '/releaseYear'],
    [{ releaseYear: undefined }, '/releaseYear'],
    [{ releaseDate: '2000-13-01' }, '/releaseDate'],
    [{ releaseDate: 'yesterday' }, '/releaseDate'],
    [{ releaseDate: '1999-05-01' }, '/releaseDate'],
    [{ label: 'l'.repeat(201) }, '/label'],
    [{ coverUrl: 'not a url' }, '/coverUrl'],
    [{ coverUrl: 'ftp://example.com/a.jpg' }, '/coverUrl'],
    [{ isPublic: 'yes' }, '/isPublic'],
    [{ isVisible: 'no' }, '/isVisible'],
    [{ artistId: 'not-a-uuid' }, '/artistId'],
    [{ artistName: '' }, '/artistName'],
    [{ songCount: 3 }, '/songCount'],
  ])('validates %j', async (fields, path) => {
    const artist = 'artistId' in fields || 'artistName' in fields ? {} : { artistName: 'Validation Artist' };
    const res = await call(t.app, 'POST', '/api/v1/albums', {
      session: admin,
      body: { ...valid, ...artist, ...fields },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('accepts the optional fields', async () => {
    const album = await makeAlbum(t.app, admin, {
      releaseDate: '2001-06-04',
      label: 'Parlophone',
      coverUrl: 'https://img.example.com/amnesiac.jpg',
      isPublic: false,
    });
    expect(album).toMatchObject({
      releaseDate: '2001-06-04',
      label: 'Parlophone',
      coverUrl: 'https://img.example.com/amnesiac.jpg',
      isPublic: false,
    });
  });

  it('is for admins and artists only: 401 anonymous, 403 users', async () => {
    const artist = await makeArtist(t.app, admin);
    const body = { ...valid, artistId: artist.id };
    expect((await call(t.app, 'POST', '/api/v1/albums', { body })).status).toBe(401);
    const res = await call(t.app, 'POST', '/api/v1/albums', { session: user, body });
    expect(res.status).toBe(403);
  });

  it('records album_added in the outbox with the write', async () => {
    const album = await makeAlbum(t.app, admin);
    const rows = await t.database.db
      .select({ type: outboxEvents.type, payload: outboxEvents.payload })
      .from(outboxEvents)
      .where(sql`${outboxEvents.payload}->>'albumId' = ${album.id}`);
    expect(rows).toEqual([
      { type: 'catalog.album_added', payload: { albumId: album.id, artistId: album.artist.id } },
    ]);
  });
});

describe('album detail, update and delete', () => {
  it('shows songs in track order', async () => {
    const album = await makeAlbum(t.app, admin);
    await makeSong(t.app, admin, album.id, { title: 'Second', trackNumber: 2 });
    await makeSong(t.app, admin, album.id, { title: 'First', trackNumber: 1 });
    const res = await get(`/api/v1/albums/${album.id}`);
    expect(res.status).toBe(200);
    expect(res.body.songs.map((s: { title: string }) => s.title)).toEqual(['First', 'Second']);
    expect(res.body).not.toHaveProperty('isVisible');
  });

  it('patches fields, keeps the rest and checks releaseDate against releaseYear', async () => {
    const album = await makeAlbum(t.app, admin, { releaseYear: 1997 });
    const res = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { title: 'OK Computer', releaseDate: '1997-05-21', label: null },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ title: 'OK Computer', releaseDate: '1997-05-21', genre: 'Rock' });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(album.updatedAt));
    const wrongYear = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { releaseYear: 2000 },
    });
    expect(wrongYear.status).toBe(400);
    expect(wrongYear.body.errors[0].path).toBe('/releaseDate');
  });

  it.each([
    [{}, '/'],
    [{ artistId: '01890000-0000-7000-8000-000000000000' }, '/artistId'],
    [{ title: '' }, '/title'],
    [{ popularity: 100 }, '/popularity'],
  ])('rejects the patch %j', async (body, path) => {
    const album = await makeAlbum(t.app, admin);
    const res = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('deletes an album with its songs', async () => {
    const album = await makeAlbum(t.app, admin);
    const song = await makeSong(t.app, admin, album.id);
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin })).status).toBe(204);
    expect((await get(`/api/v1/albums/${album.id}`)).status).toBe(404);
    expect((await get(`/api/v1/songs/${song.id}`)).status).toBe(404);
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin })).status).toBe(404);
  });

  it('answers malformed ids with 400 and unknown ones with 404', async () => {
    expect((await get('/api/v1/albums/not-a-uuid')).status).toBe(400);
    expect((await get('/api/v1/albums/12345')).status).toBe(400);
    expect((await get('/api/v1/albums/01890000-0000-7000-8000-000000000000?expand=songs')).status).toBe(400);
    const res = await get('/api/v1/albums/01890000-0000-7000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('ALBUM_NOT_FOUND');
  });

  it('keeps songCount, durationMs and the artist albumCount in step', async () => {
    const artist = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    const a = await makeSong(t.app, admin, album.id, { durationMs: 1000 });
    await makeSong(t.app, admin, album.id, { durationMs: 2500 });
    expect((await get(`/api/v1/albums/${album.id}`)).body).toMatchObject({ songCount: 2, durationMs: 3500 });
    await call(t.app, 'PATCH', `/api/v1/songs/${a.id}`, { session: admin, body: { durationMs: 500 } });
    expect((await get(`/api/v1/albums/${album.id}`)).body).toMatchObject({ songCount: 2, durationMs: 3000 });
    await call(t.app, 'DELETE', `/api/v1/songs/${a.id}`, { session: admin });
    expect((await get(`/api/v1/albums/${album.id}`)).body).toMatchObject({ songCount: 1, durationMs: 2500 });

    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(1);
    await makeAlbum(t.app, admin, { artistId: artist.id });
    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(2);
    await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin });
    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(1);
  });
});

describe('browsing albums', () => {
  const genre = unique('Shoegaze');
  let artistA: { id: string; name: string };
  let artistB: { id: string; name: string };
  let made: { id: string; title: string; releaseYear: number; createdAt: string }[];

  beforeAll(async () => {
    artistA = await makeArtist(t.app, admin, { name: unique('Slowdive') });
    artistB = await makeArtist(t.app, admin, { name: unique('Ride') });
    const specs = [
      { title: 'souvlaki', releaseYear: 1993, artistId: artistA.id },
      { title: 'Pygmalion', releaseYear: 1995, artistId: artistA.id },
      { title: 'Just for a Day', releaseYear: 1991, artistId: artistA.id },
      { title: 'Nowhere', releaseYear: 1990, artistId: artistB.id },
      { title: 'going Blank Again', releaseYear: 1992, artistId: artistB.id },
      { title: 'Carnival of Light', releaseYear: 1993, artistId: artistB.id },
    ];
    made = [];
    for (const spec of specs) made.push(await makeAlbum(t.app, admin, { ...spec, genre }));
    // Song counts 0..2 and followers give the counter sorts distinct values and ties.
    await makeSong(t.app, admin, made[0]!.id);
    await makeSong(t.app, admin, made[0]!.id);
    await makeSong(t.app, admin, made[3]!.id);
    await incrementAlbumFollowers(t.database.db, made[1]!.id, 5);
    await incrementAlbumFollowers(t.database.db, made[4]!.id, 40);
    await makeAlbum(t.app, admin, { genre: 'Not this genre', artistId: artistA.id });
  });

  const list = (query: string) =>
    get(
      `/api/v1/albums?genre=${encodeURIComponent(genre)}&${query.includes('limit=') ? '' : 'limit=100&'}${query}`,
    );

  it('filters by genre case-insensitively, repeatable', async () => {
    const res = await get(`/api/v1/albums?genre=${encodeURIComponent(genre.toUpperCase())}&limit=100`);
    expect(res.body.total).toBe(6);
    const two = await get(
      `/api/v1/albums?genre=${encodeURIComponent(genre)}&genre=not%20THIS%20genre&artistId=${artistA.id}`,
    );
    expect(two.body.total).toBe(4);
  });

  it('filters by artistId and by artist name (whole name, case-insensitive)', async () => {
    expect(ids((await list(`artistId=${artistB.id}`)).body).sort()).toEqual(
      [made[3]!.id, made[4]!.id, made[5]!.id].sort(),
    );
    const byName = await get(`/api/v1/albums?artist=${encodeURIComponent(artistA.name.toUpperCase())}`);
    expect(byName.body.total).toBe(4);
    const partial = await get(`/api/v1/albums?artist=${encodeURIComponent(artistA.name.slice(0, 5))}`);
    expect(partial.body.total).toBe(0);
  });

  it('filters by year and inclusive year ranges', async () => {
    expect((await list('year=1993')).body.total).toBe(2);
    expect(
      (await list('yearFrom=1991&yearTo=1993')).body.items
        .map((a: { releaseYear: number }) => a.releaseYear)
        .sort(),
    ).toEqual([1991, 1992, 1993, 1993]);
    expect((await list('yearFrom=1995')).body.total).toBe(1);
    expect((await list('yearTo=1990')).body.total).toBe(1);
    const reversed = await list('yearFrom=1995&yearTo=1990');
    expect(reversed.status).toBe(400);
    expect(reversed.body.errors[0].path).toBe('/yearFrom');
  });

  it('sorts by -createdAt by default', async () => {
    expect(ids((await list('')).body)).toEqual(made.map((a) => a.id).reverse());
  });

  const expected = (key: (a: (typeof made)[number]) => number | string, descending: boolean, source = made) =>
    sortedIds(source, key, descending);

  it.each([false, true])(
    'sorts by releaseYear, ties by id ascending (descending: %s)',
    async (descending) => {
      const res = await list(`sort=${descending ? '-' : ''}releaseYear`);
      expect(ids(res.body)).toEqual(expected((a) => a.releaseYear, descending));
    },
  );

  it.each([false, true])('sorts by title case-insensitively (descending: %s)', async (descending) => {
    const res = await list(`sort=${descending ? '-' : ''}title`);
    expect(ids(res.body)).toEqual(expected((a) => a.title.toLowerCase(), descending));
  });

  it.each([false, true])('sorts by createdAt (descending: %s)', async (descending) => {
    const res = await list(`sort=${descending ? '-' : ''}createdAt`);
    expect(ids(res.body)).toEqual(expected((a) => a.createdAt, descending));
  });

  it.each([
    ['songCount', [2, 0, 0, 1, 0, 0]],
    ['followerCount', [0, 5, 0, 0, 40, 0]],
    ['popularity', [0, 21, 0, 0, 44, 0]],
  ])('sorts by %s both ways, ties by id ascending', async (field, values) => {
    const value = (a: (typeof made)[number]) => values[made.indexOf(a)]!;
    const asc = await list(`sort=${field}`);
    expect(asc.body.items.map((a: Record<string, number>) => a[field])).toEqual(
      [...values].sort((x, y) => x - y),
    );
    expect(ids(asc.body)).toEqual(expected(value, false));
    expect(ids((await list(`sort=-${field}`)).body)).toEqual(expected(value, true));
  });

  it('rejects unknown sorts, unknown parameters and bad values with 400', async () => {
    for (const query of [
      'sort=rating',
      'sort=--title',
      'sort=',
      'color=red',
      'year=nineteen',
      'year=1800',
      'limit=0',
      'limit=101',
      'offset=-1',
      'offset=10001',
      `q=${'a'.repeat(201)}`,
      'q=',
      'q=%20%20',
      'artistId=123',
      'visibility=everything',
      `genre=${'g'.repeat(65)}`,
      'q=nul%00byte',
      'artist=nul%00byte',
    ]) {
      const res = await get(`/api/v1/albums?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.code, query).toBe('VALIDATION_FAILED');
    }
  });

  it('pages with total, next and previous links that keep the other parameters', async () => {
    const first = await list('sort=releaseYear&limit=4');
    expect(first.body).toMatchObject({ total: 6, limit: 4, offset: 0, previous: null });
    expect(first.body.items).toHaveLength(4);
    const next = new URL(first.body.next, 'http://x');
    expect(next.pathname).toBe('/api/v1/albums');
    expect(Object.fromEntries(next.searchParams)).toEqual({
      genre,
      limit: '4',
      sort: 'releaseYear',
      offset: '4',
    });
    const second = await get(first.body.next);
    expect(second.body.items).toHaveLength(2);
    expect(second.body.next).toBeNull();
    expect(second.body.previous).toContain('offset=0');
    expect([...ids(first.body), ...ids(second.body)]).toEqual(expected((a) => a.releaseYear, false));

    const beyond = await list('offset=50');
    expect(beyond.body).toMatchObject({ items: [], total: 6, next: null });
    expect(beyond.body.previous).toContain('offset=0');
    const exact = await list('limit=3&offset=3');
    expect(exact.body.next).toBeNull();
    expect(exact.body.previous).toContain('offset=0');
  });

  it('defaults to 20 items and allows 100', async () => {
    const many = unique('Bulk');
    const artist = await makeArtist(t.app, admin);
    for (let i = 0; i < 21; i++) await makeAlbum(t.app, admin, { genre: many, artistId: artist.id });
    const page = await get(`/api/v1/albums?genre=${many}`);
    expect(page.body).toMatchObject({ total: 21, limit: 20 });
    expect(page.body.items).toHaveLength(20);
    expect(page.body.next).toContain('offset=20');
    expect((await get(`/api/v1/albums?genre=${many}&limit=100`)).body.items).toHaveLength(21);
  });

  it('finds albums by title or artist name with a typo', async () => {
    const radiohead = await makeArtist(t.app, admin, { name: 'Radiohead' });
    const album = await makeAlbum(t.app, admin, { artistId: radiohead.id, title: 'In Rainbows' });
    expect(ids((await get('/api/v1/albums?q=Radiohed')).body)).toContain(album.id);
    expect(ids((await get('/api/v1/albums?q=in%20rainbos')).body)).toContain(album.id);
    expect(ids((await get('/api/v1/albums?q=rainbows%20radiohead')).body)).toContain(album.id);
    expect(ids((await get('/api/v1/albums?q=zzzqqqxxx')).body)).toEqual([]);
  });

  it('combines a search with list filters, ranked or sorted, and pages past the end', async () => {
    const genre = unique('Shoegaze');
    const artist = await makeArtist(t.app, admin, { name: unique('Slowdive') });
    const lp = await makeAlbum(t.app, admin, {
      artistId: artist.id,
      genre,
      title: 'Souvlaki Space',
      releaseYear: 1993,
    });
    const ep = await makeAlbum(t.app, admin, {
      artistId: artist.id,
      genre,
      title: 'Souvlaki Outtakes',
      releaseYear: 1994,
      albumType: 'ep',
    });
    await makeAlbum(t.app, admin, {
      artistId: artist.id,
      genre: 'Pop',
      title: 'Souvlaki Radio',
      releaseYear: 1993,
    });
    const filters = `genre=${genre}&genre=other&type=album&type=ep&yearFrom=1990&yearTo=1999&artist=${encodeURIComponent(artist.name)}`;
    for (const sort of ['', '&sort=title']) {
      const page = await get(`/api/v1/albums?q=souvlaki&${filters}${sort}`);
      expect(page.status).toBe(200);
      expect(ids(page.body).sort()).toEqual([lp.id, ep.id].sort());
      expect(page.body.total).toBe(2);
      const beyond = await get(`/api/v1/albums?q=souvlaki&${filters}${sort}&offset=40`);
      expect(beyond.body).toMatchObject({ items: [], total: 2 });
    }
    expect(ids((await get(`/api/v1/albums?q=souvlaki&genre=${genre}&type=ep`)).body)).toEqual([ep.id]);
  });
});

describe('visibility', () => {
  let owner: Session;
  let otherArtist: Session;
  let ownerArtist: { id: string; name: string };
  let privateAlbum: { id: string };
  let hiddenAlbum: { id: string };
  let publicAlbum: { id: string };
  const genre = unique('Private');

  beforeAll(async () => {
    ownerArtist = await makeArtist(t.app, admin);
    owner = await makeArtistAccount(t.app, admin, ownerArtist.id);
    otherArtist = await makeArtistAccount(t.app, admin, (await makeArtist(t.app, admin)).id);
    publicAlbum = await makeAlbum(t.app, admin, { artistId: ownerArtist.id, genre });
    privateAlbum = await makeAlbum(t.app, admin, { artistId: ownerArtist.id, genre, isPublic: false });
    hiddenAlbum = await makeAlbum(t.app, admin, { artistId: ownerArtist.id, genre });
    await call(t.app, 'PATCH', `/api/v1/albums/${hiddenAlbum.id}`, {
      session: admin,
      body: { isVisible: false },
    });
  });

  it('hides private and hidden albums from anonymous callers, users and other artists (404)', async () => {
    for (const session of [undefined, user, otherArtist]) {
      for (const album of [privateAlbum, hiddenAlbum]) {
        const res = await get(`/api/v1/albums/${album.id}`, session);
        expect(res.status).toBe(404);
        expect((await get(`/api/v1/albums/${album.id}/songs`, session)).status).toBe(404);
      }
      expect(ids((await get(`/api/v1/albums?genre=${genre}`, session)).body)).toEqual([publicAlbum.id]);
    }
  });

  it('shows the owning artist their own, without isVisible', async () => {
    const res = await get(`/api/v1/albums/${hiddenAlbum.id}`, owner);
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('isVisible');
    expect(ids((await get(`/api/v1/albums?genre=${genre}`, owner)).body).sort()).toEqual(
      [publicAlbum.id, privateAlbum.id, hiddenAlbum.id].sort(),
    );
  });

  it('shows admins everything by id, lists like a user by default, and visibility=all|hidden', async () => {
    const detail = await get(`/api/v1/albums/${hiddenAlbum.id}`, admin);
    expect(detail.body).toMatchObject({ isVisible: false, isPublic: true });
    expect(ids((await get(`/api/v1/albums?genre=${genre}`, admin)).body)).toEqual([publicAlbum.id]);
    expect(ids((await get(`/api/v1/albums?genre=${genre}&visibility=all`, admin)).body).sort()).toEqual(
      [publicAlbum.id, privateAlbum.id, hiddenAlbum.id].sort(),
    );
    expect(ids((await get(`/api/v1/albums?genre=${genre}&visibility=hidden`, admin)).body).sort()).toEqual(
      [privateAlbum.id, hiddenAlbum.id].sort(),
    );
  });

  it('refuses visibility= to non-admins: 401 anonymous, 403 signed in', async () => {
    expect((await get('/api/v1/albums?visibility=all')).status).toBe(401);
    expect((await get('/api/v1/albums?visibility=all', user)).status).toBe(403);
    expect((await get('/api/v1/albums?visibility=hidden', owner)).status).toBe(403);
  });

  it("counts only what everyone may see in the artist's albumCount and page", async () => {
    expect((await get(`/api/v1/artists/${ownerArtist.id}`)).body.albumCount).toBe(1);
    const page = await get(`/api/v1/artists/${ownerArtist.id}/albums`);
    expect(page.body.total).toBe(1);
    expect((await get(`/api/v1/artists/${ownerArtist.id}/albums`, owner)).body.total).toBe(3);
  });

  it('hides the songs of a hidden album everywhere', async () => {
    const song = await makeSong(t.app, admin, hiddenAlbum.id, { title: unique('Hidden song') });
    expect((await get(`/api/v1/songs/${song.id}`)).status).toBe(404);
    expect((await get(`/api/v1/songs?albumId=${hiddenAlbum.id}`)).body.total).toBe(0);
    expect((await get(`/api/v1/songs/${song.id}`, owner)).status).toBe(200);
    expect((await get(`/api/v1/songs?albumId=${hiddenAlbum.id}&visibility=hidden`, admin)).body.total).toBe(
      1,
    );
  });

  it('makes an album visible again when its switches are turned back on', async () => {
    const album = await makeAlbum(t.app, admin, { isPublic: false });
    const song = await makeSong(t.app, admin, album.id);
    expect((await get(`/api/v1/songs/${song.id}`)).status).toBe(404);
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: true } });
    expect((await get(`/api/v1/albums/${album.id}`)).status).toBe(200);
    expect((await get(`/api/v1/songs/${song.id}`)).status).toBe(200);
  });
});

describe('ownership for artist accounts', () => {
  let mine: { id: string; name: string };
  let theirs: { id: string; name: string };
  let me: Session;
  let theirAlbum: { id: string };

  beforeAll(async () => {
    mine = await makeArtist(t.app, admin);
    theirs = await makeArtist(t.app, admin);
    me = await makeArtistAccount(t.app, admin, mine.id);
    theirAlbum = await makeAlbum(t.app, admin, { artistId: theirs.id });
  });

  it('creates albums for its own artist, by id or by name', async () => {
    const byId = await makeAlbum(t.app, me, { artistId: mine.id, isPublic: false });
    expect(byId.artist.id).toBe(mine.id);
    expect(byId).not.toHaveProperty('isVisible');
    const byName = await makeAlbum(t.app, me, { artistName: mine.name.toLowerCase() });
    expect(byName.artist.id).toBe(mine.id);
  });

  it('cannot create albums for another artist or a new one (403)', async () => {
    const body = { title: 'X', genre: 'Rock', releaseYear: 2000 };
    for (const ref of [{ artistId: theirs.id }, { artistName: theirs.name }, { artistName: unique('New') }]) {
      const res = await call(t.app, 'POST', '/api/v1/albums', { session: me, body: { ...body, ...ref } });
      expect(res.status, JSON.stringify(ref)).toBe(403);
    }
  });

  it("cannot change, delete or add songs to another artist's album (403)", async () => {
    const patch = await call(t.app, 'PATCH', `/api/v1/albums/${theirAlbum.id}`, {
      session: me,
      body: { title: 'Mine now' },
    });
    expect(patch.status).toBe(403);
    expect(patch.body.code).toBe('NOT_OWNER');
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${theirAlbum.id}`, { session: me })).status).toBe(
      403,
    );
    const song = await call(t.app, 'POST', `/api/v1/albums/${theirAlbum.id}/songs`, {
      session: me,
      body: { title: 'Sneaky', durationMs: 1000 },
    });
    expect(song.status).toBe(403);
    expect((await get(`/api/v1/albums/${theirAlbum.id}`)).body.title).not.toBe('Mine now');
  });

  it('manages its own albums but may not touch isVisible', async () => {
    const album = await makeAlbum(t.app, me, { artistId: mine.id });
    const patch = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: me,
      body: { title: 'Renamed', isPublic: false },
    });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ title: 'Renamed', isPublic: false });
    const visible = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: me,
      body: { isVisible: false },
    });
    expect(visible.status).toBe(403);
    expect(visible.body.code).toBe('ADMIN_ONLY_FIELD');
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: me })).status).toBe(204);
  });

  it('users cannot change or delete albums (403)', async () => {
    const res = await call(t.app, 'PATCH', `/api/v1/albums/${theirAlbum.id}`, {
      session: user,
      body: { title: 'X' },
    });
    expect(res.status).toBe(403);
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${theirAlbum.id}`)).status).toBe(401);
  });
});
