import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SubsonicAPI } from 'subsonic-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePicture, makeTone, scratchDir } from '../../../test/audio.js';
import { admin, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeSong } from '../../../test/factories.js';
import { buildTestApp, call, register, type Session, TEST_JWT_SECRET } from '../../../test/helpers.js';
import { buildApp } from '../../app.js';
import { loadConfig } from '../../config.js';
import { createCacheStore } from '../../platform/cache.js';

const mediaDir = scratchDir('backbeat-subsonic-');
/** The app's clock runs with real time, this far ahead; a test moves it and puts it back. */
let clockAheadMs = 0;
useAppWithAdminAndUser(
  { MEDIA_DIR: mediaDir, UPLOAD_MAX_BYTES: '4MB' },
  { clock: () => new Date(Date.now() + clockAheadMs) },
);
const SLOW = { timeout: 150_000 };

/** The real `subsonic-api` client, its HTTP going through `app.inject` instead of a socket. */
const injectFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const res = await t.app.inject({
    method: (init?.method ?? 'GET') as 'GET' | 'POST',
    url: url.pathname + url.search,
    headers: Object.fromEntries(new Headers(init?.headers).entries()),
    ...(init?.body ? { payload: String(init.body) } : {}),
  });
  return new Response(res.rawPayload, {
    status: res.statusCode,
    headers: res.headers as Record<string, string>,
  });
};

const client = (auth: { username: string; password: string } | { apiKey: string }, post = false) =>
  new SubsonicAPI({ url: 'http://backbeat.test', auth, fetch: injectFetch, post });

async function appPassword(session: Session, name = 'Player') {
  const res = await call(t.app, 'POST', '/api/v1/me/app-passwords', { session, body: { name } });
  expect(res.status).toBe(201);
  expect(res.headers.location).toBe(`/api/v1/me/app-passwords/${res.body.id}`);
  return res.body as { id: string; name: string; password: string; createdAt: string };
}

/** A raw `/rest` call with a plain app password, for what the client does not expose. */
const rest = (method: string, query: Record<string, string>, password: string, login: string) =>
  t.app.inject({
    method: 'GET',
    url: `/rest/${method}?${new URLSearchParams({ u: login, p: password, v: '1.16.1', c: 'test', ...query })}`,
  });

const errorOf = (res: { json(): { 'subsonic-response': { status: string; error?: { code: number } } } }) =>
  res.json()['subsonic-response'].error?.code;

describe('app passwords', () => {
  it('are shown once, listed without the password, stored encrypted and revocable', async () => {
    const created = await appPassword(user, 'DSub');
    expect(created).toMatchObject({ name: 'DSub' });
    expect(created.password.length).toBeGreaterThanOrEqual(20);
    const list = await call(t.app, 'GET', '/api/v1/me/app-passwords', { session: user });
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual({ id: created.id, name: 'DSub', createdAt: created.createdAt });
    expect(JSON.stringify(list.body)).not.toContain(created.password);
    const stored = await t.database.db.execute(
      `select secret, lookup from app_passwords where id = '${created.id}'`,
    );
    expect(JSON.stringify(stored)).not.toContain(created.password);
    // Others cannot delete it; its owner can, once.
    expect(
      (await call(t.app, 'DELETE', `/api/v1/me/app-passwords/${created.id}`, { session: admin })).status,
    ).toBe(404);
    expect(
      (await call(t.app, 'DELETE', `/api/v1/me/app-passwords/${created.id}`, { session: user })).status,
    ).toBe(204);
    expect(
      (await call(t.app, 'DELETE', `/api/v1/me/app-passwords/${created.id}`, { session: user })).status,
    ).toBe(404);
    const ping = await rest('ping', { f: 'json' }, created.password, user.user.email!);
    expect(errorOf(ping)).toBe(40);
  });

  it('need a signed-in caller and a name', async () => {
    expect((await call(t.app, 'POST', '/api/v1/me/app-passwords', { body: { name: 'x' } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/v1/me/app-passwords', { session: user, body: {} })).status).toBe(
      400,
    );
  });
});

describe('authentication and the envelope', () => {
  let password: string;
  beforeAll(async () => {
    password = (await appPassword(user)).password;
  });

  it('accepts token auth (md5 of password and salt), with the email in any case, GET and form POST', async () => {
    const email = user.user.email!;
    for (const api of [
      client({ username: email, password }),
      client({ username: email.toUpperCase(), password }),
      client({ username: email, password }, true),
    ]) {
      const res = await api.ping();
      expect(res).toMatchObject({ status: 'ok', version: '1.16.1', type: 'backbeat', openSubsonic: true });
      expect(typeof (res as { serverVersion?: unknown }).serverVersion).toBe('string');
    }
  });

  it('accepts an app password as the OpenSubsonic apiKey, and plain or enc: passwords', async () => {
    expect((await client({ apiKey: password }).ping()).status).toBe('ok');
    const hex = `enc:${Buffer.from(password).toString('hex')}`;
    expect(errorOf(await rest('ping.view', { f: 'json' }, hex, user.user.email!))).toBeUndefined();
    expect(errorOf(await rest('ping', { f: 'json' }, password, user.user.email!))).toBeUndefined();
  });

  it('answers failures as Subsonic errors with HTTP 200', async () => {
    const wrong = await rest('ping', { f: 'json' }, 'nope', user.user.email!);
    expect(wrong.statusCode).toBe(200);
    expect(wrong.json()['subsonic-response']).toMatchObject({ status: 'failed', error: { code: 40 } });
    // The account password never works on /rest.
    expect(errorOf(await rest('ping', { f: 'json' }, 'correct-horse-battery', user.user.email!))).toBe(40);
    const missing = await t.app.inject({ url: '/rest/ping?f=json&v=1.16.1&c=x' });
    expect(errorOf(missing)).toBe(10);
    const both = await t.app.inject({ url: `/rest/ping?f=json&apiKey=${password}&u=someone` });
    expect(errorOf(both)).toBe(43);
    expect(errorOf(await t.app.inject({ url: '/rest/ping?f=json&apiKey=unknown' }))).toBe(44);
    expect(errorOf(await rest('getAlbum', { f: 'json', id: 'not-an-id' }, password, user.user.email!))).toBe(
      70,
    );
    expect(errorOf(await rest('getAlbum', { f: 'json' }, password, user.user.email!))).toBe(10);
    expect(errorOf(await rest('noSuchMethod', { f: 'json' }, password, user.user.email!))).toBe(70);
  });

  it('speaks XML by default: well-formed, namespaced, with the envelope attributes', async () => {
    const res = await rest('getOpenSubsonicExtensions', {}, password, user.user.email!);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(XMLValidator.validate(res.body)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(res.body);
    expect(doc['subsonic-response']).toMatchObject({
      xmlns: 'http://subsonic.org/restapi',
      status: 'ok',
      version: '1.16.1',
      type: 'backbeat',
      openSubsonic: 'true',
    });
    const failed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
      (await rest('ping', {}, 'nope', user.user.email!)).body,
    );
    expect(failed['subsonic-response']).toMatchObject({ status: 'failed', error: { code: '40' } });
  });
});

describe('browsing, lists, stars, playlists and streaming', SLOW, () => {
  let api: SubsonicAPI;
  let email: string;
  let password: string;
  let album: { id: string; title: string };
  let songs: { id: string; title: string }[];

  beforeAll(async () => {
    ({ password } = await appPassword(user));
    email = user.user.email!;
    api = client({ username: email, password });
    album = await makeAlbum(t.app, admin, {
      genre: 'Subsonica',
      releaseYear: 1999,
      title: 'Alpha & <Omega>',
    });
    songs = [];
    for (let i = 0; i < 3; i++) songs.push(await makeSong(t.app, admin, album.id, { genre: 'Subsonica' }));
    const tone = readFileSync(makeTone(scratchDir(), 'tone.flac', { seconds: 3 }));
    const up = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/songs/${songs[0]!.id}/audio`,
      headers: { ...admin.auth, 'content-type': 'audio/flac' },
      payload: tone,
    });
    expect(up.statusCode).toBe(202);
    await t.app.services.jobs.idle(undefined, 120_000);
  });

  it('browses artists, albums and songs with Subsonic fields', async () => {
    const artists = await api.getArtists();
    const all = artists.artists.index?.flatMap((i) => i.artist) ?? [];
    const fromAlbum = (await api.getAlbum({ id: album.id })).album;
    expect(fromAlbum).toMatchObject({
      id: album.id,
      name: album.title,
      year: 1999,
      songCount: 3,
      genre: 'Subsonica',
    });
    expect(fromAlbum.song?.map((s) => s.id)).toEqual(songs.map((s) => s.id));
    expect(all.map((a) => a?.id)).toContain(fromAlbum.artistId);
    const artist = (await api.getArtist({ id: fromAlbum.artistId! })).artist;
    expect(artist.album?.map((a) => a.id)).toContain(album.id);
    const song = (await api.getSong({ id: songs[0]!.id })).song;
    expect(song).toMatchObject({
      id: songs[0]!.id,
      albumId: album.id,
      isDir: false,
      suffix: 'flac',
      type: 'music',
    });
    expect(song.duration).toBe(3);
    expect(song.bitRate).toBeGreaterThan(0);
    expect(song.created).toBeInstanceOf(Date);
    expect((await api.getGenres()).genres.genre?.find((g) => g.value === 'Subsonica')).toMatchObject({
      songCount: 3,
      albumCount: 1,
    });
    expect((await api.getMusicFolders()).musicFolders.musicFolder).toHaveLength(1);
    expect((await api.getIndexes()).indexes.index?.length).toBeGreaterThan(0);
  });

  it('answers the client in XML too: the same entries as in JSON, in the Subsonic schema shapes', async () => {
    const xml = async (method: string, params: Record<string, unknown> = {}) => {
      const res = await api.custom(`${method}.view`, { ...params, f: 'xml' });
      expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
      const body = await res.text();
      expect(XMLValidator.validate(body)).toBe(true);
      const doc = new XMLParser({
        ignoreAttributes: false,
        attributeNamePrefix: '',
        // Repeated elements below the payload (`artists` is also getArtists' payload element).
        isArray: (name, path) =>
          path !== `subsonic-response.${name}` &&
          ['index', 'artist', 'song', 'genres', 'artists', 'albumArtists'].includes(name),
      }).parse(body)['subsonic-response'];
      expect(doc).toMatchObject({ xmlns: 'http://subsonic.org/restapi', status: 'ok', version: '1.16.1' });
      return doc;
    };
    const json = (await api.getAlbum({ id: album.id })).album;
    const doc = (await xml('getAlbum', { id: album.id })).album;
    expect(doc).toMatchObject({ id: album.id, name: 'Alpha & <Omega>', year: '1999', songCount: '3' });
    expect(doc.song.map((s: { id: string }) => s.id)).toEqual(json.song?.map((s) => s.id));
    expect(doc.song[0]).toMatchObject({
      isDir: 'false',
      suffix: 'flac',
      contentType: 'audio/flac',
      duration: '3',
      mediaType: 'song',
      genres: [{ name: 'Subsonica' }],
    });
    // getIndexes is the folder view: its XML `Artist` has no album count or cover (ArtistID3's).
    const indexes = (await xml('getIndexes')).indexes.index.flatMap((i: { artist: object[] }) => i.artist);
    const byId = indexes.find((a: { id: string }) => a.id === json.artistId);
    expect(byId).toEqual({ id: json.artistId, name: json.artist });
    const id3 = (await xml('getArtists')).artists.index.flatMap((i: { artist: object[] }) => i.artist);
    expect(id3.find((a: { id: string }) => a.id === json.artistId)).toMatchObject({ albumCount: '1' });
  });

  it('pages albums and songs in a stable order (getAlbumList2, search3 with an empty query)', async () => {
    const byGenre = await api.getAlbumList2({ type: 'byGenre', genre: 'Subsonica', size: 10 });
    expect(byGenre.albumList2.album?.map((a) => a.id)).toEqual([album.id]);
    const byYear = await api.getAlbumList2({ type: 'byYear', fromYear: 1999, toYear: 1999 });
    expect(byYear.albumList2.album?.map((a) => a.id)).toContain(album.id);
    const newest = await api.getAlbumList2({ type: 'newest', size: 1 });
    expect(newest.albumList2.album?.[0]?.id).toBe(album.id);
    const seen: string[] = [];
    for (let offset = 0; ; offset += 2) {
      const page = await api.search3({
        query: '',
        songCount: 2,
        songOffset: offset,
        artistCount: 0,
        albumCount: 0,
      });
      const ids = page.searchResult3.song?.map((s) => s.id) ?? [];
      seen.push(...ids);
      if (ids.length < 2) break;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(songs.map((s) => s.id)));
    const found = await api.search3({ query: songs[1]!.title });
    expect(found.searchResult3.song?.map((s) => s.id)).toContain(songs[1]!.id);
    const byGenreSongs = await api.getSongsByGenre({ genre: 'Subsonica', count: 10 });
    expect(byGenreSongs.songsByGenre.song).toHaveLength(3);
    expect((await api.getRandomSongs({ size: 2 })).randomSongs.song).toHaveLength(2);
  });

  it('lists albums alphabetically by artist, then by title (alphabeticalByArtist)', async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    // Titles in the opposite order to their artists, so a sort by title alone fails.
    const made = [];
    for (const [artistName, title] of [
      [`Zz ${tag} Last`, `Aa ${tag} first title`],
      [`aa ${tag} first`, `zz ${tag} title`],
      [`AA ${tag} First b`, `Mm ${tag} title`],
      [`aa ${tag} first`, `bb ${tag} title`],
    ] as const) {
      made.push(await makeAlbum(t.app, admin, { artistName, title }));
    }
    const ids = made.map((a) => a.id);
    const listed =
      (await api.getAlbumList2({ type: 'alphabeticalByArtist', size: 500 })).albumList2.album ?? [];
    const ours = listed.map((a) => a.id).filter((id) => ids.includes(id));
    // "aa … first" (bb, then zz), "AA … First b", "Zz … Last".
    expect(ours).toEqual([ids[3], ids[1], ids[2], ids[0]]);
    const names = listed.map((a) => `${a.artist?.toLowerCase()}\u0000${a.name.toLowerCase()}`);
    expect(names).toEqual([...names].sort());
    const paged = (await api.getAlbumList2({ type: 'alphabeticalByArtist', size: 2, offset: 1 })).albumList2
      .album;
    expect(paged?.map((a) => a.id)).toEqual(listed.slice(1, 3).map((a) => a.id));
  });

  it('stars songs, follows starred albums, and lists them in getStarred2', async () => {
    await api.star({ id: songs[0]!.id, albumId: album.id });
    const starred = (await api.getStarred2()).starred2;
    expect(starred.song?.map((s) => s.id)).toEqual([songs[0]!.id]);
    expect(starred.album?.map((a) => a.id)).toEqual([album.id]);
    const following = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(following.body.items.map((a: { id: string }) => a.id)).toEqual([album.id]);
    expect((await api.getAlbumList2({ type: 'starred' })).albumList2.album?.map((a) => a.id)).toEqual([
      album.id,
    ]);
    await api.unstar({ id: songs[0]!.id, albumId: album.id });
    const after = (await api.getStarred2()).starred2;
    expect(after.song ?? []).toEqual([]);
    expect(after.album ?? []).toEqual([]);
  });

  it('counts a scrobble submission as a play and shows now playing', async () => {
    await api.scrobble({ id: songs[1]!.id, submission: false });
    const now = (await api.getNowPlaying()).nowPlaying.entry ?? [];
    expect(now.map((e) => e.id)).toContain(songs[1]!.id);
    await api.scrobble({ id: songs[1]!.id, submission: true });
    await t.app.services.discovery.flushPlays();
    const song = await call(t.app, 'GET', `/api/v1/songs/${songs[1]!.id}`);
    expect(song.body.playCount).toBe(1);
    expect((await api.getAlbumList2({ type: 'recent' })).albumList2.album?.map((a) => a.id)).toEqual([
      album.id,
    ]);
  });

  it('shows now playing for ten minutes on the app clock, with the minutes since', async () => {
    await api.scrobble({ id: songs[2]!.id, submission: false });
    const entry = async () =>
      ((await api.getNowPlaying()).nowPlaying.entry ?? []).find((e) => e.id === songs[2]!.id);
    try {
      expect(await entry()).toMatchObject({ minutesAgo: 0 });
      clockAheadMs = 9 * 60_000 + 30_000;
      expect(await entry()).toMatchObject({ minutesAgo: 9 });
      clockAheadMs = 10 * 60_000 + 1000;
      expect(await entry()).toBeUndefined();
    } finally {
      clockAheadMs = 0;
    }
  });

  it('shows now playing from whichever process a player told (two apps on one database)', async () => {
    // A second process of the same deployment: same database and secret, its own memory.
    const other = await buildApp(
      loadConfig({
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: scratchDir(),
        MEDIA_DIR: mediaDir,
        DEMO_DATA: 'false',
        RATE_LIMIT_MAX: '1000000',
      }),
      { database: t.database, cacheStore: createCacheStore(undefined) },
    );
    try {
      await other.ready();
      await api.scrobble({ id: songs[0]!.id, submission: false });
      const res = await other.inject({ url: `/rest/getNowPlaying?f=json&apiKey=${password}` });
      const entries = res.json()['subsonic-response'].nowPlaying.entry ?? [];
      expect(entries.find((e: { id: string }) => e.id === songs[0]!.id)).toMatchObject({
        username: (await api.getUser({ username: email })).user.username,
        playerName: 'subsonic-api',
        minutesAgo: 0,
      });
    } finally {
      await other.close();
    }
  });

  it('creates, updates, reads and deletes playlists', async () => {
    const created = (await api.createPlaylist({ name: 'Road trip', songId: [songs[0]!.id, songs[1]!.id] }))
      .playlist;
    expect(created.entry?.map((e) => e.id)).toEqual([songs[0]!.id, songs[1]!.id]);
    await api.updatePlaylist({
      playlistId: created.id,
      name: 'Road',
      songIndexToRemove: [0],
      songIdToAdd: [songs[2]!.id],
    });
    const read = (await api.getPlaylist({ id: created.id })).playlist;
    expect(read).toMatchObject({ name: 'Road', songCount: 2 });
    expect(read.entry?.map((e) => e.id)).toEqual([songs[1]!.id, songs[2]!.id]);
    expect((await api.getPlaylists()).playlists.playlist?.map((p) => p.id)).toContain(created.id);
    const badSong = { f: 'json', playlistId: created.id, songIdToAdd: 'x' };
    expect(errorOf(await rest('updatePlaylist', badSong, password, email))).toBe(70);
    // Names and comments keep the REST API's bounds: never blank, at most 100 / 300 characters, no NUL.
    for (const [method, query] of [
      ['createPlaylist', { name: '   ' }],
      ['createPlaylist', { name: 'x'.repeat(101) }],
      ['createPlaylist', { name: 'a\u0000b' }],
      ['updatePlaylist', { playlistId: created.id, name: '' }],
      ['updatePlaylist', { playlistId: created.id, comment: 'c'.repeat(301) }],
      ['updatePlaylist', { playlistId: created.id, comment: '\u0000' }],
    ] as const) {
      expect(errorOf(await rest(method, { f: 'json', ...query }, password, email))).toBe(0);
    }
    expect((await api.getPlaylist({ id: created.id })).playlist).toMatchObject({ name: 'Road' });
    await api.deletePlaylist({ id: created.id });
    expect(errorOf(await rest('getPlaylist', { f: 'json', id: created.id }, password, email))).toBe(70);
  });

  it('streams the rendition a maxBitRate asks for, the original with format=raw, with Range', async () => {
    const low = await rest('stream', { id: songs[0]!.id, maxBitRate: '64' }, password, email);
    expect(low.statusCode).toBe(200);
    expect(low.headers['content-type']).toBe('audio/mpeg');
    const high = await rest('stream', { id: songs[0]!.id }, password, email);
    expect(high.rawPayload.length).toBeGreaterThan(low.rawPayload.length);
    const raw = await rest('stream', { id: songs[0]!.id, format: 'raw' }, password, email);
    expect(raw.headers['content-type']).toBe('audio/flac');
    const download = await rest('download', { id: songs[0]!.id }, password, email);
    expect(download.rawPayload.equals(raw.rawPayload)).toBe(true);
    const ranged = await t.app.inject({
      url: `/rest/stream.view?${new URLSearchParams({ u: email, p: password, id: songs[0]!.id, maxBitRate: '64' })}`,
      headers: { range: 'bytes=10-19' },
    });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes 10-19/${low.rawPayload.length}`);
    expect(ranged.rawPayload.equals(low.rawPayload.subarray(10, 20))).toBe(true);
    // A song without audio is not found to a player, in its format.
    expect(errorOf(await rest('stream', { id: songs[1]!.id, f: 'json' }, password, email))).toBe(0);
  });

  it('serves the album cover nearest the requested size', async () => {
    const png = readFileSync(makePicture(scratchDir(), 'cover.png', 700, 700));
    const cover = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/albums/${album.id}/cover`,
      headers: { ...admin.auth, 'content-type': 'image/png' },
      payload: png,
    });
    expect(cover.statusCode).toBe(200);
    expect((await api.getAlbum({ id: album.id })).album.coverArt).toBe(album.id);
    const small = await rest('getCoverArt', { id: album.id, size: '80' }, password, email);
    expect(small.statusCode).toBe(200);
    expect(small.headers['content-type']).toBe('image/jpeg');
    const large = await rest('getCoverArt', { id: album.id }, password, email);
    expect(large.rawPayload.length).toBeGreaterThan(small.rawPayload.length);
    const noCover = await makeAlbum(t.app, admin);
    expect(errorOf(await rest('getCoverArt', { id: noCover.id, f: 'json' }, password, email))).toBe(70);
  });

  it('reads the signed-in user and refuses other users', async () => {
    const me = (await api.getUser({ username: email })).user;
    expect(me).toMatchObject({ email, streamRole: true, adminRole: false });
    // The account's username, which players may also sign in with.
    expect(me.username).toMatch(/^[a-z0-9._-]{3,32}$/);
    const byUsername = await rest('getUser', { f: 'json', username: me.username }, password, me.username);
    expect(byUsername.json()['subsonic-response']).toMatchObject({ status: 'ok', user: { email } });
    expect(errorOf(await rest('getUser', { f: 'json', username: admin.user.email! }, password, email))).toBe(
      50,
    );
  });
});

describe('failed sign-ins on /rest', () => {
  it('count against the auth rate limit; successful calls do not', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_AUTH_MAX: '3' });
    try {
      const session = await register(limited.app);
      const created = await limited.app.inject({
        method: 'POST',
        url: '/api/v1/me/app-passwords',
        headers: session.auth,
        payload: { name: 'x' },
      });
      const good = `/rest/ping?f=json&u=${session.user.email}&p=${created.json().password}`;
      const bad = `/rest/ping?f=json&u=${session.user.email}&p=wrong`;
      for (let i = 0; i < 5; i++) expect(errorOf(await limited.app.inject({ url: good }))).toBeUndefined();
      for (let i = 0; i < 3; i++) expect(errorOf(await limited.app.inject({ url: bad }))).toBe(40);
      const blocked = await limited.app.inject({ url: good });
      expect(blocked.statusCode).toBe(429);
      expect(blocked.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});
