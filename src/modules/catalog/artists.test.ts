import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, sortedIds, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call, type Session } from '../../../test/helpers.js';
import { incrementArtistFollowers } from './index.js';

useAppWithAdminAndUser();

const MIGRATIONS = new URL('../../../db/migrations', import.meta.url).pathname;

describe('artists', () => {
  it('creates an artist with defaults and Location (admins only)', async () => {
    const res = await call(t.app, 'POST', '/api/v1/artists', {
      session: admin,
      body: {
        name: ' Björk ',
        bio: 'Icelandic',
        imageUrl: 'https://img.example.com/b.jpg',
        genres: ['Pop', 'pop', 'Art Pop'],
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/v1/artists/${res.body.id}`);
    expect(res.body).toMatchObject({
      name: 'Björk',
      bio: 'Icelandic',
      imageUrl: 'https://img.example.com/b.jpg',
      genres: ['Pop', 'Art Pop'],
      albumCount: 0,
      followerCount: 0,
      isVisible: true,
    });
    const anonymous = await get(`/api/v1/artists/${res.body.id}`);
    expect(anonymous.body).toEqual({ ...res.body, isVisible: undefined });
    expect(anonymous.body).not.toHaveProperty('isVisible');

    const body = { name: 'Nope' };
    expect((await call(t.app, 'POST', '/api/v1/artists', { body })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/v1/artists', { session: user, body })).status).toBe(403);
    const artistAccount = await makeArtistAccount(t.app, admin, res.body.id);
    expect((await call(t.app, 'POST', '/api/v1/artists', { session: artistAccount, body })).status).toBe(403);
  });

  it.each([
    [{ name: '' }, '/name'],
    [{ name: '   ' }, '/name'],
    [{ name: 'n'.repeat(201) }, '/name'],
    [{ name: undefined }, '/name'],
    [{ bio: 'b'.repeat(5001) }, '/bio'],
    [{ bio: 'nul\u0000byte' }, '/bio'],
    [{ imageUrl: 'https://example.com/\u0000' }, '/imageUrl'],
    [{ imageUrl: 'nope' }, '/imageUrl'],
    [{ imageUrl: 'javascript:alert(1)' }, '/imageUrl'],
    [{ genres: { rock: true } }, '/genres'],
    [{ genres: [''] }, '/genres/0'],
    [{ genres: ['g'.repeat(65)] }, '/genres/0'],
    [{ genres: Array.from({ length: 11 }, (_, i) => `g${i}`) }, '/genres'],
    [{ isVisible: false }, '/isVisible'],
    [{ albumCount: 5 }, '/albumCount'],
  ])('validates %j', async (fields, path) => {
    const res = await call(t.app, 'POST', '/api/v1/artists', {
      session: admin,
      body: { name: 'Valid', ...fields },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('patches an artist; an empty patch or unknown field is 400', async () => {
    const artist = await makeArtist(t.app, admin, { bio: 'old' });
    const res = await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { bio: null, genres: ['Trip Hop'] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: artist.name, bio: null, genres: ['Trip Hop'] });
    for (const body of [{}, { id: artist.id }, { name: '' }, { followerCount: 3 }]) {
      const bad = await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, { session: admin, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('lets an artist account edit its own profile only, and never isVisible', async () => {
    const mine = await makeArtist(t.app, admin);
    const theirs = await makeArtist(t.app, admin);
    const me = await makeArtistAccount(t.app, admin, mine.id);
    const own = await call(t.app, 'PATCH', `/api/v1/artists/${mine.id}`, {
      session: me,
      body: { bio: 'new' },
    });
    expect(own.status).toBe(200);
    expect(own.body).not.toHaveProperty('isVisible');
    const other = await call(t.app, 'PATCH', `/api/v1/artists/${theirs.id}`, {
      session: me,
      body: { bio: 'x' },
    });
    expect(other.status).toBe(403);
    const hide = await call(t.app, 'PATCH', `/api/v1/artists/${mine.id}`, {
      session: me,
      body: { isVisible: false },
    });
    expect(hide.status).toBe(403);
    expect(
      (await call(t.app, 'PATCH', `/api/v1/artists/${mine.id}`, { session: user, body: { bio: 'x' } }))
        .status,
    ).toBe(403);
    expect((await call(t.app, 'DELETE', `/api/v1/artists/${mine.id}`, { session: me })).status).toBe(403);
  });

  it('renaming an artist renames them on their albums and songs', async () => {
    const artist = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    const song = await makeSong(t.app, admin, album.id);
    const name = unique('Renamed');
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, { session: admin, body: { name } });
    expect((await get(`/api/v1/albums/${album.id}`)).body.artist.name).toBe(name);
    expect((await get(`/api/v1/songs/${song.id}`)).body.artist.name).toBe(name);
    expect(ids((await get(`/api/v1/albums?q=${encodeURIComponent(name)}`)).body)).toContain(album.id);
  });

  it('keeps artist names unique case-insensitively: 409 ARTIST_NAME_TAKEN on create and rename', async () => {
    const queen = await makeArtist(t.app, admin, { name: unique('Queen') });
    const taken = await call(t.app, 'POST', '/api/v1/artists', {
      session: admin,
      body: { name: ` ${queen.name.toUpperCase()} ` },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('ARTIST_NAME_TAKEN');

    // An artist account cannot take a real artist's name, so an admin's artistName links the real one.
    const impostor = await makeArtist(t.app, admin);
    const account = await makeArtistAccount(t.app, admin, impostor.id);
    const rename = await call(t.app, 'PATCH', `/api/v1/artists/${impostor.id}`, {
      session: account,
      body: { name: queen.name.toLowerCase() },
    });
    expect(rename.status).toBe(409);
    expect(rename.body.code).toBe('ARTIST_NAME_TAKEN');
    const album = await makeAlbum(t.app, admin, { artistName: queen.name });
    expect(album.artist.id).toBe(queen.id);

    // Renaming to another spelling of one's own name is no clash.
    const respelled = await call(t.app, 'PATCH', `/api/v1/artists/${queen.id}`, {
      session: admin,
      body: { name: queen.name.toUpperCase() },
    });
    expect(respelled.status).toBe(200);
  });

  it('the migration to unique names suffixes existing duplicates, and their albums follow', async () => {
    const db = t.database.db;
    const name = unique('Twin');
    const first = await makeArtist(t.app, admin, { name });
    const second = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: second.id });
    // The state before the migration: the old, non-unique index and two artists of one name.
    await db.execute(sql`drop index artists_lower_name_key`);
    await db.execute(sql`create index artists_lower_name_idx on artists (lower(name))`);
    await db.execute(sql`update artists set name = ${name.toUpperCase()} where id = ${second.id}`);
    await db.execute(sql`update albums set artist_name = ${name.toUpperCase()} where id = ${album.id}`);

    const file = readdirSync(MIGRATIONS).find((f) => f.endsWith('_artist_name_unique.sql'))!;
    for (const statement of readFileSync(join(MIGRATIONS, file), 'utf8').split('--> statement-breakpoint')) {
      await db.execute(sql.raw(statement));
    }
    await t.app.services.cache.invalidate(`catalog:artist:${second.id}`, `catalog:album:${album.id}`);
    const suffixed = `${name.toUpperCase()} (${second.id.slice(-12)})`;
    expect((await get(`/api/v1/artists/${first.id}`)).body.name).toBe(name);
    expect((await get(`/api/v1/artists/${second.id}`)).body.name).toBe(suffixed);
    expect((await get(`/api/v1/albums/${album.id}`)).body.artist.name).toBe(suffixed);
    const again = await call(t.app, 'POST', '/api/v1/artists', { session: admin, body: { name } });
    expect(again.status).toBe(409);
  });

  it('deletes an artist without albums; with albums it is 409', async () => {
    const artist = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    const conflict = await call(t.app, 'DELETE', `/api/v1/artists/${artist.id}`, { session: admin });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('ARTIST_HAS_ALBUMS');
    await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin });
    expect((await call(t.app, 'DELETE', `/api/v1/artists/${artist.id}`, { session: admin })).status).toBe(
      204,
    );
    expect((await get(`/api/v1/artists/${artist.id}`)).status).toBe(404);
    expect((await call(t.app, 'DELETE', `/api/v1/artists/${artist.id}`, { session: admin })).status).toBe(
      404,
    );
  });

  it('answers malformed ids with 400 and unknown ones with 404', async () => {
    expect((await get('/api/v1/artists/abc')).status).toBe(400);
    expect((await get('/api/v1/artists/abc/albums')).status).toBe(400);
    const missing = await get('/api/v1/artists/01890000-0000-7000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ARTIST_NOT_FOUND');
    expect((await get('/api/v1/artists/01890000-0000-7000-8000-000000000000/albums')).status).toBe(404);
  });
});

describe('hidden artists', () => {
  let hidden: { id: string; name: string };
  let album: { id: string };
  let song: { id: string };
  let owner: Session;
  const genre = unique('HiddenGenre');

  beforeAll(async () => {
    hidden = await makeArtist(t.app, admin, { name: unique('Ghost'), genres: [genre] });
    album = await makeAlbum(t.app, admin, { artistId: hidden.id, genre });
    song = await makeSong(t.app, admin, album.id);
    owner = await makeArtistAccount(t.app, admin, hidden.id);
    const res = await call(t.app, 'PATCH', `/api/v1/artists/${hidden.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    expect(res.body.isVisible).toBe(false);
  });

  it('hides the artist, their albums and songs from users and anonymous callers', async () => {
    for (const session of [undefined, user]) {
      expect((await get(`/api/v1/artists/${hidden.id}`, session)).status).toBe(404);
      expect((await get(`/api/v1/artists/${hidden.id}/albums`, session)).status).toBe(404);
      expect((await get(`/api/v1/albums/${album.id}`, session)).status).toBe(404);
      expect((await get(`/api/v1/songs/${song.id}`, session)).status).toBe(404);
      expect((await get(`/api/v1/artists?genre=${genre}`, session)).body.total).toBe(0);
      expect((await get(`/api/v1/albums?genre=${genre}`, session)).body.total).toBe(0);
      expect(
        (await get(`/api/v1/search?q=${encodeURIComponent(hidden.name)}`, session)).body.artists.total,
      ).toBe(0);
    }
  });

  it('shows them to the owner and to admins (with visibility=hidden listing them)', async () => {
    expect((await get(`/api/v1/artists/${hidden.id}`, owner)).status).toBe(200);
    expect((await get(`/api/v1/albums/${album.id}`, owner)).status).toBe(200);
    expect((await get(`/api/v1/artists/${hidden.id}`, admin)).body.isVisible).toBe(false);
    expect(ids((await get(`/api/v1/artists?genre=${genre}&visibility=hidden`, admin)).body)).toEqual([
      hidden.id,
    ]);
    expect((await get(`/api/v1/artists?genre=${genre}`, admin)).body.total).toBe(0);
    expect((await get(`/api/v1/artists?visibility=all`, user)).status).toBe(403);
    expect((await get(`/api/v1/artists?visibility=all`)).status).toBe(401);
  });

  it('shows everything again when the artist is made visible', async () => {
    const other = await makeArtist(t.app, admin, { genres: [genre] });
    const otherAlbum = await makeAlbum(t.app, admin, { artistId: other.id, genre, isPublic: false });
    await call(t.app, 'PATCH', `/api/v1/artists/${other.id}`, { session: admin, body: { isVisible: false } });
    await call(t.app, 'PATCH', `/api/v1/artists/${other.id}`, { session: admin, body: { isVisible: true } });
    expect((await get(`/api/v1/artists/${other.id}`)).status).toBe(200);
    // The album's own switch still hides it.
    expect((await get(`/api/v1/albums/${otherAlbum.id}`)).status).toBe(404);
  });
});

describe('browsing artists', () => {
  const genre = unique('Krautrock');
  let made: { id: string; name: string; createdAt: string; albumCount: number; followerCount: number }[];

  beforeAll(async () => {
    made = [];
    for (const name of ['Neu!', 'can', 'Faust', 'Cluster']) {
      made.push(
        await makeArtist(t.app, admin, { name: `${name} ${genre}`, genres: [genre.toUpperCase(), 'Rock'] }),
      );
    }
    await makeAlbum(t.app, admin, { artistId: made[1]!.id });
    await makeAlbum(t.app, admin, { artistId: made[1]!.id });
    await makeAlbum(t.app, admin, { artistId: made[2]!.id });
    await incrementArtistFollowers(t.database.db, made[3]!.id, 7);
    await incrementArtistFollowers(t.database.db, made[0]!.id, 2);
    made = await Promise.all(made.map(async (a) => (await get(`/api/v1/artists/${a.id}`)).body));
  });

  const list = (query: string) => get(`/api/v1/artists?genre=${genre}&limit=100&${query}`);

  it('filters by genre case-insensitively and by q with a typo', async () => {
    expect((await list('')).body.total).toBe(4);
    const radiohead = await makeArtist(t.app, admin, { name: 'Radiohead' });
    expect(ids((await get('/api/v1/artists?q=Radiohed')).body)).toContain(radiohead.id);
    expect(ids((await get('/api/v1/artists?q=radiohead')).body)[0]).toBe(radiohead.id);
  });

  it('sorts by -createdAt by default', async () => {
    expect(ids((await list('')).body)).toEqual(made.map((a) => a.id).reverse());
  });

  it.each([
    ['name', (a: (typeof made)[number]) => a.name.toLowerCase()],
    ['createdAt', (a: (typeof made)[number]) => a.createdAt],
    ['albumCount', (a: (typeof made)[number]) => a.albumCount],
    ['followerCount', (a: (typeof made)[number]) => a.followerCount],
  ] as const)('sorts by %s both ways with ties by id ascending', async (field, key) => {
    for (const descending of [false, true]) {
      const expected = sortedIds(made, key, descending);
      expect(ids((await list(`sort=${descending ? '-' : ''}${field}`)).body), field).toEqual(expected);
    }
  });

  it('pages artists', async () => {
    const first = await get(`/api/v1/artists?genre=${genre}&limit=3&sort=name`);
    expect(first.body.items).toHaveLength(3);
    const second = await get(first.body.next);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.next).toBeNull();
  });

  it('rejects bad query parameters', async () => {
    for (const query of ['sort=popularity', 'limit=500', 'q=', 'unknown=1', `q=${'x'.repeat(201)}`]) {
      expect((await get(`/api/v1/artists?${query}`)).status, query).toBe(400);
    }
  });

  it("lists an artist's albums with the album sorts and pages", async () => {
    const artist = made[1]!;
    const page = await get(`/api/v1/artists/${artist.id}/albums?sort=createdAt&limit=1`);
    expect(page.body.total).toBe(2);
    expect(page.body.next).toContain(`/api/v1/artists/${artist.id}/albums?`);
    expect((await get(`/api/v1/artists/${artist.id}/albums?sort=bogus`)).status).toBe(400);
  });
});
