import { beforeAll, describe, expect, it } from 'vitest';
import { admin, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeSong } from '../../../test/factories.js';
import { call } from '../../../test/helpers.js';

/**
 * The album lists, stars by plain `id` and playlist replacement of the Subsonic API, as a
 * client calls them over `/rest` (JSON), checked against what the REST API shows.
 */
useAppWithAdminAndUser();

let password: string;
// biome-ignore lint/suspicious/noExplicitAny: Subsonic bodies are asserted field by field.
type Json = any;

async function rest(method: string, query: Record<string, string | string[]> = {}): Promise<Json> {
  const params = new URLSearchParams({ u: user.user.email!, p: password, v: '1.16.1', c: 'test', f: 'json' });
  for (const [name, value] of Object.entries(query))
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, one);
  const res = await t.app.inject({ method: 'GET', url: `/rest/${method}?${params}` });
  expect(res.statusCode).toBe(200);
  return res.json()['subsonic-response'];
}

const albumIds = async (type: string, extra: Record<string, string> = {}) =>
  ((await rest('getAlbumList2', { type, size: '500', ...extra })).albumList2.album ?? []).map(
    (a: { id: string }) => a.id,
  );

let albums: { id: string; title: string }[];
let hidden: { id: string };

beforeAll(async () => {
  const created = await call(t.app, 'POST', '/api/v1/me/app-passwords', {
    session: user,
    body: { name: 'x' },
  });
  password = created.body.password;
  // Created in an order that is neither by title nor reversed.
  albums = [];
  for (const title of ['Middle', 'Zenith', 'Anthem']) albums.push(await makeAlbum(t.app, admin, { title }));
  hidden = await makeAlbum(t.app, admin, { title: 'Backstage', isVisible: false });
});

describe('getAlbumList2', () => {
  it('lists by name, in title order, without albums hidden from the caller', async () => {
    const byName = await albumIds('alphabeticalByName');
    expect(byName).toEqual([albums[2]!.id, albums[0]!.id, albums[1]!.id]);
    const paged = await albumIds('alphabeticalByName', { size: '1', offset: '1' });
    expect(paged).toEqual([albums[0]!.id]);
  });

  it('lists the most followed first (highest)', async () => {
    const zenith = albums[1]!.id;
    expect(
      (await call(t.app, 'PUT', `/api/v1/me/following/albums/${zenith}`, { session: user })).status,
    ).toBe(204);
    const highest = await albumIds('highest');
    expect(highest[0]).toBe(zenith);
    expect(new Set(highest)).toEqual(new Set(albums.map((a) => a.id)));
    await call(t.app, 'DELETE', `/api/v1/me/following/albums/${zenith}`, { session: user });
  });

  it('lists random albums: only visible ones, each once, at most `size`', async () => {
    const all = await albumIds('random');
    expect(all).toHaveLength(3);
    expect(new Set(all)).toEqual(new Set(albums.map((a) => a.id)));
    expect(all).not.toContain(hidden.id);
    const two = await albumIds('random', { size: '2' });
    expect(two).toHaveLength(2);
    expect(new Set(two).size).toBe(2);
  });

  it('answers an unknown list type or a missing year with a Subsonic error', async () => {
    const unknown = await rest('getAlbumList2', { type: 'bestOfAllTime' });
    expect(unknown.status).toBe('failed');
    expect(unknown.error).toMatchObject({ code: 0 });
    expect(unknown.error.message).toContain('bestOfAllTime');
    const noYear = await rest('getAlbumList2', { type: 'byYear', fromYear: '1990' });
    expect(noYear.error).toMatchObject({ code: 10 });
    const badSize = await rest('getAlbumList2', { type: 'newest', size: '-1' });
    expect(badSize.error).toMatchObject({ code: 0 });
  });
});

describe('star and unstar by id', () => {
  it('follows an album or an artist given as `id`, and unfollows it again', async () => {
    const artist = await makeArtist(t.app, admin);
    const album = albums[0]!.id;
    expect((await rest('star', { id: [album, artist.id] })).status).toBe('ok');
    const followedAlbums = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(followedAlbums.body.items.map((a: { id: string }) => a.id)).toEqual([album]);
    const followedArtists = await call(t.app, 'GET', '/api/v1/me/following/artists', { session: user });
    expect(followedArtists.body.items.map((a: { id: string }) => a.id)).toEqual([artist.id]);
    const starred = (await rest('getStarred2')).starred2;
    expect(starred.album.map((a: { id: string }) => a.id)).toEqual([album]);
    expect(starred.artist.map((a: { id: string }) => a.id)).toEqual([artist.id]);

    expect((await rest('unstar', { id: [album, artist.id] })).status).toBe('ok');
    expect((await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user })).body.items).toEqual(
      [],
    );
    expect((await call(t.app, 'GET', '/api/v1/me/following/artists', { session: user })).body.items).toEqual(
      [],
    );
    // An id that is nothing the caller may see: not found, nothing followed.
    const nothing = await rest('star', { id: hidden.id });
    expect(nothing.error).toMatchObject({ code: 70 });
  });
});

describe('createPlaylist with a playlistId', () => {
  it('replaces the songs of the playlist with the ones given', async () => {
    const songs = [];
    for (let i = 0; i < 3; i++) songs.push(await makeSong(t.app, admin, albums[0]!.id));
    const created = (await rest('createPlaylist', { name: 'Mix', songId: [songs[0]!.id, songs[1]!.id] }))
      .playlist;
    expect(created.entry.map((e: { id: string }) => e.id)).toEqual([songs[0]!.id, songs[1]!.id]);
    const replaced = (
      await rest('createPlaylist', { playlistId: created.id, songId: [songs[2]!.id, songs[0]!.id] })
    ).playlist;
    expect(replaced).toMatchObject({ id: created.id, name: 'Mix', songCount: 2 });
    expect(replaced.entry.map((e: { id: string }) => e.id)).toEqual([songs[2]!.id, songs[0]!.id]);
    const viaRest = await call(t.app, 'GET', `/api/v1/playlists/${created.id}`, { session: user });
    expect(viaRest.body.tracks.map((track: { song: { id: string } }) => track.song.id)).toEqual([
      songs[2]!.id,
      songs[0]!.id,
    ]);
    // Another user's playlists: a public one may be read but not changed, a private one is not found.
    const shared = await call(t.app, 'POST', '/api/v1/playlists', {
      session: admin,
      body: { name: 'Shared' },
    });
    const refused = await rest('createPlaylist', { playlistId: shared.body.id, songId: songs[0]!.id });
    expect(refused.error).toMatchObject({ code: 50 });
    const unchanged = await call(t.app, 'GET', `/api/v1/playlists/${shared.body.id}`, { session: admin });
    expect(unchanged.body.tracks).toEqual([]);
    const own = await call(t.app, 'POST', '/api/v1/playlists', {
      session: admin,
      body: { name: 'Private', isPublic: false },
    });
    const unseen = await rest('createPlaylist', { playlistId: own.body.id, songId: songs[0]!.id });
    expect(unseen.error).toMatchObject({ code: 70 });
  });
});

describe('updatePlaylist', () => {
  it('names a playlist of the caller and checks every parameter before changing anything', async () => {
    const song = await makeSong(t.app, admin, albums[0]!.id);
    const mine = (await rest('createPlaylist', { name: 'Keep', songId: song.id })).playlist;
    for (const index of ['-1', '1.5', 'abc', '']) {
      const refused = await rest('updatePlaylist', {
        playlistId: mine.id,
        name: 'Renamed',
        songIndexToRemove: index,
      });
      expect(refused.error).toEqual({
        code: 0,
        message: 'Parameter songIndexToRemove must be a non-negative integer',
      });
    }
    const badSong = await rest('updatePlaylist', {
      playlistId: mine.id,
      name: 'Renamed',
      songIdToAdd: 'nope',
    });
    expect(badSong.error).toMatchObject({ code: 70 });
    expect((await rest('getPlaylist', { id: mine.id })).playlist).toMatchObject({
      name: 'Keep',
      songCount: 1,
    });
    // An unknown playlist, or another user's, is an error even when nothing would change.
    const unknown = await rest('updatePlaylist', { playlistId: song.id });
    expect(unknown.error).toMatchObject({ code: 70 });
    const theirs = await call(t.app, 'POST', '/api/v1/playlists', {
      session: admin,
      body: { name: 'Theirs' },
    });
    expect((await rest('updatePlaylist', { playlistId: theirs.body.id })).error).toMatchObject({ code: 50 });
    expect((await rest('updatePlaylist', { playlistId: mine.id })).status).toBe('ok');
  });
});

describe('album release types (OpenSubsonic)', () => {
  it('name the catalog album type, and mark compilations', async () => {
    for (const [albumType, releaseType] of [
      ['single', 'Single'],
      ['ep', 'EP'],
      ['compilation', 'Compilation'],
      ['album', 'Album'],
    ] as const) {
      const made = await makeAlbum(t.app, admin, { albumType });
      expect((await rest('getAlbum', { id: made.id })).album).toMatchObject({
        releaseTypes: [releaseType],
        isCompilation: albumType === 'compilation',
      });
    }
  });
});

describe('getLicense', () => {
  it('is always valid, for the caller', async () => {
    expect((await rest('getLicense')).license).toEqual({ valid: true, email: user.user.email });
  });
});

/** Whether two ids sit next to each other in `order`. */
const adjacent = (order: string[], [a, b]: string[]) =>
  Math.abs(order.indexOf(a as string) - order.indexOf(b as string)) === 1;

describe('random lists', () => {
  it('draw albums from the whole list, not a shuffled run of neighbours', async () => {
    const order = await albumIds('newest');
    expect(order.length).toBeGreaterThanOrEqual(3);
    let apart = 0;
    for (let i = 0; i < 30; i++) {
      const two = await albumIds('random', { size: '2' });
      expect(two).toHaveLength(2);
      if (!adjacent(order, two)) apart++;
    }
    // Two neighbours every time is what a window of consecutive albums gives; a fair draw
    // gives a pair that is not neighbours a third of the time or more.
    expect(apart).toBeGreaterThan(0);
  });

  it('draw songs from the whole genre and years asked for (getRandomSongs)', async () => {
    const genre = `Mix${Math.random().toString(36).slice(2, 8)}`;
    const album = await makeAlbum(t.app, admin, { genre, releaseYear: 1980 });
    const later = await makeAlbum(t.app, admin, { genre, releaseYear: 1990 });
    const created: string[] = [];
    for (let i = 0; i < 6; i++) created.push((await makeSong(t.app, admin, album.id, { genre })).id);
    const late = (await makeSong(t.app, admin, later.id, { genre })).id;
    const order = [...created, late];
    let apart = 0;
    for (let i = 0; i < 30; i++) {
      const two = (await rest('getRandomSongs', { genre, size: '2' })).randomSongs.song.map(
        (s: { id: string }) => s.id,
      );
      expect(two).toHaveLength(2);
      expect(order).toEqual(expect.arrayContaining(two));
      if (!adjacent(order, two)) apart++;
    }
    expect(apart).toBeGreaterThan(0);
    const in1990 = await rest('getRandomSongs', { genre, fromYear: '1990', toYear: '1990', size: '10' });
    expect(in1990.randomSongs.song.map((s: { id: string }) => s.id)).toEqual([late]);
    const upTo1985 = await rest('getRandomSongs', { genre, toYear: '1985', size: '10' });
    expect(new Set(upTo1985.randomSongs.song.map((s: { id: string }) => s.id))).toEqual(new Set(created));
  });
});

describe('played (OpenSubsonic)', () => {
  it("marks the caller's own last play on songs and albums", async () => {
    const album = await makeAlbum(t.app, admin);
    const [first, second] = [await makeSong(t.app, admin, album.id), await makeSong(t.app, admin, album.id)];
    const before = (await rest('getAlbum', { id: album.id })).album;
    expect(before.played).toBeUndefined();
    expect(before.song.map((s: { played?: string }) => s.played)).toEqual([undefined, undefined]);
    const start = Date.now();
    expect((await rest('scrobble', { id: first!.id, submission: 'true' })).status).toBe('ok');
    const after = (await rest('getAlbum', { id: album.id })).album;
    const played = Date.parse(after.played);
    expect(played).toBeGreaterThanOrEqual(start - 1000);
    expect(played).toBeLessThanOrEqual(Date.now() + 1000);
    expect(after.song.map((s: { played?: string }) => s.played)).toEqual([after.played, undefined]);
    expect((await rest('getSong', { id: first!.id })).song.played).toBe(after.played);
    expect((await rest('getSong', { id: second!.id })).song.played).toBeUndefined();
    const listed = (await rest('getAlbumList2', { type: 'recent' })).albumList2.album;
    expect(listed.find((a: { id: string }) => a.id === album.id)?.played).toBe(after.played);
    // Another listener's plays are not the caller's.
    const adminPassword = (
      await call(t.app, 'POST', '/api/v1/me/app-passwords', { session: admin, body: { name: 'x' } })
    ).body.password;
    const asAdmin = await t.app.inject({
      url: `/rest/getSong?${new URLSearchParams({ u: admin.user.email!, p: adminPassword, f: 'json', id: first!.id })}`,
    });
    expect(asAdmin.json()['subsonic-response'].song.played).toBeUndefined();
  });
});

describe('what answers without credentials, and hostile input', () => {
  it('answers getOpenSubsonicExtensions to anyone, in JSON and XML', async () => {
    const json = await t.app.inject({ url: '/rest/getOpenSubsonicExtensions?f=json' });
    expect(json.json()['subsonic-response']).toMatchObject({
      status: 'ok',
      openSubsonic: true,
      openSubsonicExtensions: expect.arrayContaining([{ name: 'apiKeyAuthentication', versions: [1] }]),
    });
    const xml = await t.app.inject({ url: '/rest/getOpenSubsonicExtensions.view' });
    expect(xml.body).toContain('status="ok"');
    expect(xml.body).toContain('<openSubsonicExtensions name="formPost"><versions>1</versions>');
    // Every other method still needs them.
    expect(
      (await t.app.inject({ url: '/rest/getLicense?f=json' })).json()['subsonic-response'],
    ).toMatchObject({ status: 'failed', error: { code: 10 } });
  });

  it('refuses a NUL character in any parameter with a clear error', async () => {
    for (const [method, query, name] of [
      ['search3', { query: '\u0000abc' }, 'query'],
      ['search3', { query: '<script>alert(1)</script>\u0000' }, 'query'],
      ['getAlbumList2', { type: 'byGenre', genre: 'a\u0000' }, 'genre'],
    ] as const) {
      const answer = await rest(method, query);
      expect(answer.error).toEqual({ code: 0, message: `Parameter ${name} must not contain NUL characters` });
    }
    const login = await t.app.inject({ url: '/rest/ping?f=json&u=%00&p=x' });
    expect(login.json()['subsonic-response'].error).toEqual({
      code: 0,
      message: 'Parameter u must not contain NUL characters',
    });
  });
});
