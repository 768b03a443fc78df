import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call, type Session } from '../../../test/helpers.js';
import { AlbumSchema, ArtistSchema, SongSchema } from './catalog.schemas.js';

useAppWithAdminAndUser();

describe('GET /search', () => {
  let radiohead: { id: string; name: string };
  let album: { id: string };
  let song: { id: string };

  beforeAll(async () => {
    radiohead = await makeArtist(t.app, admin, { name: 'Radiohead' });
    album = await makeAlbum(t.app, admin, { artistId: radiohead.id, title: 'Amnesiac' });
    song = await makeSong(t.app, admin, album.id, { title: 'Pyramid Song' });
  });

  it('finds artists, albums and songs despite a typo, with an empty playlists page', async () => {
    const res = await get('/api/v1/search?q=Radiohed');
    expect(res.status).toBe(200);
    expect(ids(res.body.artists)).toContain(radiohead.id);
    expect(ids(res.body.albums)).toContain(album.id);
    expect(ids(res.body.songs)).toContain(song.id);
    // A song carries its album's title, whether found by /search or by a list's q.
    const found = res.body.songs.items.find((s: { id: string }) => s.id === song.id);
    expect(found.album).toEqual({ id: album.id, title: 'Amnesiac' });
    const listed = (await get('/api/v1/songs?q=pyramid%20song')).body.items;
    expect(listed.find((s: { id: string }) => s.id === song.id).album).toEqual({
      id: album.id,
      title: 'Amnesiac',
    });
    expect(res.body.playlists).toEqual({
      items: [],
      total: 0,
      limit: 20,
      offset: 0,
      next: null,
      previous: null,
    });
  });

  it('finds a word despite a transposition or a doubled letter', async () => {
    const teardrop = await makeSong(t.app, admin, album.id, { title: 'Teardrop' });
    expect(ids((await get('/api/v1/search?q=teardorp&type=song')).body.songs)).toEqual([teardrop.id]);
    expect(ids((await get('/api/v1/search?q=Amnessiac&type=album')).body.albums)).toEqual([album.id]);
  });

  it('finds a short word despite a slip that leaves too few trigrams in common', async () => {
    // "kivx" and "kvox" share 1 and 2 of their trigrams with "kvix" (similarity 0.11 and 0.25,
    // under the 0.3 of `%`), "aqz" none with "qaz": only the one-edit neighbours find them.
    const slipped = await makeSong(t.app, admin, album.id, { title: 'Kvix Lantern Qaz' });
    for (const q of ['kivx lantern', 'kvox', 'kvxi', 'kvixe lantern', 'aqz lantern']) {
      expect(ids((await get(`/api/v1/search?q=${encodeURIComponent(q)}&type=song`)).body.songs), q).toEqual([
        slipped.id,
      ]);
    }
    // A word the lexicon knows means what it says: its one-edit neighbours are not added.
    const other = await makeSong(t.app, admin, album.id, { title: 'Kvox Harbor' });
    expect(ids((await get('/api/v1/search?q=kvox&type=song')).body.songs)).toEqual([other.id]);
    expect(ids((await get('/api/v1/search?q=kvix&type=song')).body.songs)).toEqual([slipped.id]);
  });

  it('matches a word as a prefix, whether few or many lexicon words start with it', async () => {
    // A prefix with at most 32 words in the lexicon is spelled out as those words; with more,
    // it stays a prefix match. Both find the same rows, alone and beside another word.
    const few = unique('Quillon').replace('-', '').toLowerCase();
    const album = await makeAlbum(t.app, admin, { title: `${few}x Overture` });
    const fewSongs = [];
    for (let i = 0; i < 3; i++)
      fewSongs.push(await makeSong(t.app, admin, album.id, { title: `${few}${i} tide` }));
    const sorted = (items: { id: string }[]) => items.map((item) => item.id).sort();
    const found = (await get(`/api/v1/search?q=${few}&type=song,album`)).body;
    expect(ids(found.songs).sort()).toEqual(sorted(fewSongs));
    expect(ids(found.albums)).toEqual([album.id]);
    expect(ids((await get(`/api/v1/search?q=${few} tide&type=song`)).body.songs).sort()).toEqual(
      sorted(fewSongs),
    );

    const many = unique('Borealis').replace('-', '').toLowerCase();
    const manySongs = [];
    for (let i = 0; i < 34; i++)
      manySongs.push(await makeSong(t.app, admin, album.id, { title: `${many}${i}` }));
    const all = (await get(`/api/v1/search?q=${many}&type=song&limit=50`)).body.songs;
    expect(all.total).toBe(34);
    expect(ids(all).sort()).toEqual(sorted(manySongs));
  }, 120_000);

  it('answers only the requested types', async () => {
    const res = await get('/api/v1/search?q=pyramid&type=song,album');
    expect(Object.keys(res.body).sort()).toEqual(['albums', 'songs']);
    expect(ids(res.body.songs)).toEqual([song.id]);
    expect(res.body.albums.total).toBe(0);
  });

  it('ranks exact matches, then prefixes, then near matches', async () => {
    const word = unique('zephyr').replace('-', '');
    const artist = await makeArtist(t.app, admin);
    const near = await makeAlbum(t.app, admin, { artistId: artist.id, title: `Old ${word}` });
    const prefix = await makeAlbum(t.app, admin, { artistId: artist.id, title: `${word} Rising` });
    const exact = await makeAlbum(t.app, admin, { artistId: artist.id, title: word.toUpperCase() });
    const res = await get(`/api/v1/search?q=${word}&type=album`);
    expect(ids(res.body.albums)).toEqual([exact.id, prefix.id, near.id]);
    expect(ids((await get(`/api/v1/albums?q=${word}`)).body)).toEqual([exact.id, prefix.id, near.id]);
    // An explicit sort wins over relevance.
    expect(ids((await get(`/api/v1/albums?q=${word}&sort=createdAt`)).body)).toEqual([
      near.id,
      prefix.id,
      exact.id,
    ]);
  });

  it('bounds the work of a query: words after the eighth are ignored', async () => {
    const words = Array.from({ length: 8 }, () => unique('w').replace('-', ''));
    const artist = await makeArtist(t.app, admin);
    const long = await makeAlbum(t.app, admin, { artistId: artist.id, title: words.join(' ') });
    // 200 characters: the eight words, then 2-letter words no title holds.
    const padding = Array.from({ length: 40 }, (_, i) => `q${String.fromCharCode(97 + (i % 26))}`);
    const q = [...words, ...padding].join(' ').slice(0, 200);
    const res = await get(`/api/v1/search?q=${encodeURIComponent(q)}&type=album`);
    expect(res.status).toBe(200);
    expect(ids(res.body.albums)).toEqual([long.id]);
    expect(ids((await get(`/api/v1/albums?q=${encodeURIComponent(q)}`)).body)).toEqual([long.id]);
  });

  it('pages each type and keeps the query in the links', async () => {
    const word = unique('Quasar').replace('-', '');
    const artist = await makeArtist(t.app, admin);
    for (let i = 0; i < 3; i++) await makeAlbum(t.app, admin, { artistId: artist.id, title: `${word} ${i}` });
    const res = await get(`/api/v1/search?q=${word}&type=album&limit=2`);
    expect(res.body.albums).toMatchObject({ total: 3, limit: 2 });
    expect(res.body.albums.next).toMatch(/^\/api\/v1\/search\?/);
    expect(res.body.albums.next).toContain(`q=${word}`);
    expect((await get(res.body.albums.next)).body.albums.items).toHaveLength(1);
    // A page past the last match has no row to carry the total: it is counted apart.
    const beyond = await get(`/api/v1/search?q=${word}&type=album&limit=2&offset=4`);
    expect(beyond.body.albums).toMatchObject({ items: [], total: 3, offset: 4 });
    expect((await get(`/api/v1/albums?q=${word}&offset=4`)).body).toMatchObject({ items: [], total: 3 });
  });

  it('writes each item as its schema says, whether the index or the database found it', async () => {
    const word = unique('Zyxtor').replace('-', '');
    const name = `${word} "Quoted" \\ Ünïcode 🎵`;
    const artist = await makeArtist(t.app, admin, { name });
    const album = await makeAlbum(t.app, admin, { artistId: artist.id, title: `${name} Album` });
    const song = await makeSong(t.app, admin, album.id, { title: `${name} Song` });
    const owner = await makeArtistAccount(t.app, admin, artist.id);
    await t.app.services.catalog.searchIndex.refresh();
    const url = `/api/v1/search?q=${word}&type=artist,album,song,playlist`;
    // Anonymous and admin searches are the index's (rows kept as the JSON sent: twice, to read
    // them back); the artist account's own scope is the database's.
    const answers = [await get(url), await get(url), await get(url, owner), await get(url, admin)];
    const schemas = { artists: ArtistSchema, albums: AlbumSchema, songs: SongSchema } as const;
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.raw.body).toBe(JSON.stringify(res.body));
      expect(Object.keys(res.body)).toEqual(['albums', 'artists', 'songs', 'playlists']);
      for (const [page, schema] of Object.entries(schemas)) {
        expect(ids(res.body[page]), page).toEqual([
          { artists: artist, albums: album, songs: song }[page]!.id,
        ]);
        const [item] = res.body[page].items;
        const fields = Object.keys(schema.properties);
        expect(Object.keys(item).sort(), page).toEqual(fields.filter((field) => field in item).sort());
        expect('isVisible' in item, page).toBe(i === 3);
        const { isVisible: _admins, ...seen } = item;
        expect(seen, page).toEqual(answers[0]!.body[page].items[0]);
      }
      expect(res.body.artists.items[0].name).toBe(name);
      expect(res.body.songs.items[0]).toMatchObject({
        title: `${name} Song`,
        album: { title: `${name} Album` },
      });
    }
  });

  it('hides what the caller may not see, and shows an artist their own', async () => {
    const word = unique('Nebula').replace('-', '');
    const artist = await makeArtist(t.app, admin);
    const owner = await makeArtistAccount(t.app, admin, artist.id);
    const hidden = await makeAlbum(t.app, admin, { artistId: artist.id, title: word, isPublic: false });
    await makeSong(t.app, admin, hidden.id, { title: word });
    for (const session of [undefined, user, admin]) {
      const res = await get(`/api/v1/search?q=${word}`, session);
      expect(res.body.albums.total).toBe(0);
      expect(res.body.songs.total).toBe(0);
    }
    const mine = await get(`/api/v1/search?q=${word}`, owner);
    expect(ids(mine.body.albums)).toEqual([hidden.id]);
    expect(mine.body.songs.total).toBe(1);
  });

  it('validates q, type and paging', async () => {
    for (const query of [
      '',
      'q=',
      'q=%20',
      `q=${'a'.repeat(201)}`,
      'q=x&type=video',
      'q=x&type=album,',
      'q=x&limit=0',
      'q=x&offset=10001',
      'q=x&sort=title',
    ]) {
      const res = await get(`/api/v1/search?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await get(`/api/v1/search?q=${'a'.repeat(200)}`)).status).toBe(200);
    expect((await get('/api/v1/search?q=%25_%5C%27%22)(*')).status).toBe(200);
  });
});

describe('caching', () => {
  it('album list: a write shows on the next read at once', async () => {
    const genre = unique('CacheGenre');
    const first = await makeAlbum(t.app, admin, { genre });
    expect(ids((await get(`/api/v1/albums?genre=${genre}`)).body)).toEqual([first.id]);
    const second = await makeAlbum(t.app, admin, { genre });
    expect(ids((await get(`/api/v1/albums?genre=${genre}`)).body)).toEqual([second.id, first.id]);
    await call(t.app, 'PATCH', `/api/v1/albums/${first.id}`, { session: admin, body: { title: 'Changed' } });
    const page = await get(`/api/v1/albums?genre=${genre}`);
    expect(page.body.items[1].title).toBe('Changed');
    await makeSong(t.app, admin, first.id, { durationMs: 1234 });
    expect((await get(`/api/v1/albums?genre=${genre}`)).body.items[1]).toMatchObject({
      songCount: 1,
      durationMs: 1234,
    });
    await call(t.app, 'DELETE', `/api/v1/albums/${second.id}`, { session: admin });
    expect(ids((await get(`/api/v1/albums?genre=${genre}`)).body)).toEqual([first.id]);
  });

  it('album list cache keys ignore case and spacing of q but not other parameters', async () => {
    const word = unique('Pulsar').replace('-', '');
    const album = await makeAlbum(t.app, admin, { title: word });
    expect(ids((await get(`/api/v1/albums?q=${word}`)).body)).toEqual([album.id]);
    const renamed = `${word} Renamed`;
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { title: renamed } });
    const res = await get(`/api/v1/albums?q=%20${word.toUpperCase()}%20`);
    expect(res.body.items[0].title).toBe(renamed);
    expect((await get(`/api/v1/albums?q=${word}&limit=1`)).body.limit).toBe(1);
  });

  it('album detail: changes to the album, its songs and its artist show at once', async () => {
    const artist = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    expect((await get(`/api/v1/albums/${album.id}`)).body.songs).toEqual([]);
    const song = await makeSong(t.app, admin, album.id, { title: 'One' });
    expect((await get(`/api/v1/albums/${album.id}`)).body.songs.map((s: { id: string }) => s.id)).toEqual([
      song.id,
    ]);
    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, { session: admin, body: { title: 'Uno' } });
    expect((await get(`/api/v1/albums/${album.id}`)).body.songs[0].title).toBe('Uno');
    expect((await get(`/api/v1/albums/${album.id}/songs`)).body.items[0].title).toBe('Uno');
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { label: 'XL' } });
    expect((await get(`/api/v1/albums/${album.id}`)).body.label).toBe('XL');
    const name = unique('New name');
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, { session: admin, body: { name } });
    const detail = await get(`/api/v1/albums/${album.id}`);
    expect(detail.body.artist.name).toBe(name);
    expect(detail.body.songs[0].artist.name).toBe(name);
    await call(t.app, 'DELETE', `/api/v1/songs/${song.id}`, { session: admin });
    expect((await get(`/api/v1/albums/${album.id}`)).body.songs).toEqual([]);
  });

  it('artist detail: profile changes and album counts show at once', async () => {
    const artist = await makeArtist(t.app, admin);
    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(0);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(1);
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: false } });
    expect((await get(`/api/v1/artists/${artist.id}`)).body.albumCount).toBe(0);
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, { session: admin, body: { bio: 'Updated' } });
    expect((await get(`/api/v1/artists/${artist.id}`)).body.bio).toBe('Updated');
    await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin });
    await call(t.app, 'DELETE', `/api/v1/artists/${artist.id}`, { session: admin });
    expect((await get(`/api/v1/artists/${artist.id}`)).status).toBe(404);
  });

  it("never serves an admin's or owner's view to anyone else", async () => {
    const genre = unique('ScopeGenre');
    const artist = await makeArtist(t.app, admin);
    const owner = await makeArtistAccount(t.app, admin, artist.id);
    const visible = await makeAlbum(t.app, admin, { artistId: artist.id, genre });
    const hidden = await makeAlbum(t.app, admin, { artistId: artist.id, genre, isPublic: false });
    // The privileged views are read (and cached) first.
    expect((await get(`/api/v1/albums?genre=${genre}&visibility=all`, admin)).body.total).toBe(2);
    expect((await get(`/api/v1/albums?genre=${genre}`, owner)).body.total).toBe(2);
    const adminDefault = await get(`/api/v1/albums?genre=${genre}`, admin);
    expect(adminDefault.body.items[0]).toHaveProperty('isVisible', true);
    expect((await get(`/api/v1/albums/${hidden.id}`, admin)).status).toBe(200);
    expect((await get(`/api/v1/artists/${artist.id}`, admin)).body).toHaveProperty('isVisible');

    const anonymous = await get(`/api/v1/albums?genre=${genre}`);
    expect(ids(anonymous.body)).toEqual([visible.id]);
    expect(anonymous.body.items[0]).not.toHaveProperty('isVisible');
    expect(ids((await get(`/api/v1/albums?genre=${genre}`, user)).body)).toEqual([visible.id]);
    expect((await get(`/api/v1/albums/${hidden.id}`)).status).toBe(404);
    expect((await get(`/api/v1/albums/${hidden.id}`, user)).status).toBe(404);
    expect((await get(`/api/v1/albums/${visible.id}`)).body).not.toHaveProperty('isVisible');
    expect((await get(`/api/v1/artists/${artist.id}`)).body).not.toHaveProperty('isVisible');
  });

  it('answers If-None-Match with 304 until the resource changes', async () => {
    const album = await makeAlbum(t.app, admin);
    for (const url of [
      `/api/v1/albums/${album.id}`,
      '/api/v1/albums',
      `/api/v1/artists/${album.artist.id}`,
    ]) {
      const first = await get(url);
      expect(first.headers.etag, url).toBeTruthy();
      // Raw inject: a 304 has no body to parse.
      const again = await t.app.inject({
        method: 'GET',
        url,
        headers: { 'if-none-match': String(first.headers.etag) },
      });
      expect(again.statusCode, url).toBe(304);
      expect(again.body).toBe('');
    }
    const first = await get(`/api/v1/albums/${album.id}`);
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { title: 'Changed' } });
    const after = await get(`/api/v1/albums/${album.id}`, undefined, {
      'if-none-match': String(first.headers.etag),
    });
    expect(after.status).toBe(200);
    expect(after.headers.etag).not.toBe(first.headers.etag);
  });

  it('serves cached album pages and details as the same bytes per URL until they change', async () => {
    const genre = unique('BytesGenre');
    const artist = await makeArtist(t.app, admin);
    await makeAlbum(t.app, admin, { genre, artistId: artist.id });
    await makeAlbum(t.app, admin, { genre, artistId: artist.id });
    const urls = [
      `/api/v1/albums?genre=${genre}&limit=1`,
      `/api/v1/albums?limit=1&genre=${genre}`,
      `/api/v1/artists/${artist.id}/albums?limit=1`,
    ];
    const served = async (url: string, session?: Session) => {
      const res = await t.app.inject({
        method: 'GET',
        url,
        headers: session ? { authorization: `Bearer ${session.accessToken}` } : {},
      });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      return { body: res.body, etag: res.headers.etag, page: JSON.parse(res.body) };
    };
    for (const url of urls) {
      const [first, second] = [await served(url), await served(url)];
      expect(second.body, url).toBe(first.body);
      expect(second.etag, url).toBe(first.etag);
      expect(first.page.total).toBe(2);
      // The link keeps this URL's own parameters (the two spellings share one cache entry).
      expect(first.page.next, url).toBe(`${url}&offset=1`);
    }
    // A signed-in reader of the same list gets the same page (it holds nothing personal).
    expect((await served(urls[0]!, user)).body).toBe((await served(urls[0]!)).body);

    const before = await served(urls[0]!);
    const third = await makeAlbum(t.app, admin, { genre, artistId: artist.id });
    const after = await served(urls[0]!);
    expect(after.page.total).toBe(3);
    expect(after.etag).not.toBe(before.etag);

    // Album detail likewise for anonymous readers; signed-in readers get it with followedByMe.
    const detail = `/api/v1/albums/${third.id}`;
    const [one, two] = [await served(detail), await served(detail)];
    expect(two.body).toBe(one.body);
    expect(one.page).not.toHaveProperty('followedByMe');
    expect(one.page).not.toHaveProperty('isVisible');
    expect((await served(detail, user)).page.followedByMe).toBe(false);
    expect((await served(detail, admin)).page.isVisible).toBe(true);
    await call(t.app, 'PATCH', `/api/v1/albums/${third.id}`, { session: admin, body: { title: 'Renamed' } });
    const renamed = await served(detail);
    expect(renamed.page.title).toBe('Renamed');
    expect(renamed.etag).not.toBe(one.etag);
  });

  it('marks anonymous reads public and signed-in reads private, varying on Authorization', async () => {
    const album = await makeAlbum(t.app, admin);
    for (const url of [
      `/api/v1/albums/${album.id}`,
      '/api/v1/albums',
      `/api/v1/albums/${album.id}/songs`,
      '/api/v1/songs',
      '/api/v1/artists',
      `/api/v1/artists/${album.artist.id}`,
      '/api/v1/search?q=x',
    ]) {
      const anonymous = await get(url);
      expect(anonymous.headers['cache-control'], url).toMatch(/^public, max-age=\d+/);
      expect(anonymous.headers.vary, url).toMatch(/Authorization/i);
      const signedIn = await get(url, user);
      expect(signedIn.headers['cache-control'], url).toBe('private, no-cache');
    }
  });
});
