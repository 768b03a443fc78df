import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong } from '../../../test/factories.js';
import { call, register } from '../../../test/helpers.js';
import { Cache, MemoryCacheStore } from '../../platform/cache.js';
import { SEARCH_TAG } from './catalog.cache.js';
import { listAlbums, listArtists, listSongs, queryWords } from './catalog.repo.js';
import { normaliseQuery } from './catalog.service.js';
import { assemble, searchBuilt } from './search-built.js';
import {
  createSearchIndex,
  INDEXED_TYPES,
  type IndexedType,
  plainQueryWords,
  readIndexData,
} from './search-index.js';

useAppWithAdminAndUser();

// Names that share words and prefixes, differ by one letter, repeat words, carry accents,
// punctuation and digits: what the lexicon's prefixes, neighbours and similar words act on.
const ARTISTS = [
  'Radiohead',
  'The Radio Dept',
  'Radio Moscow',
  'Björk',
  'AC/DC',
  'Sigur Rós',
  'Otis Redding',
  'Massive Attack',
  'La La Band',
  'Teardrop Explodes',
  'Blur',
  'The Blues Brothers',
  'X',
];
const ALBUM_TITLES = [
  'OK Computer',
  'Amnesiac',
  'Kid A',
  'Pet Sounds',
  'Love',
  'Loveless',
  'Lover',
  'Rock-n-Roll High School',
  '1999',
  'Ágætis byrjun',
  'Mezzanine',
  'The Teardrop',
  'Heat Wave',
  'Radio Radio',
  'A B C',
];
const SONG_TITLES = [
  'Teardrop',
  'Pyramid Song',
  'Paranoid Android',
  'Karma Police',
  'Love Song',
  'Lovesong',
  'Love Me Do',
  'Lover You Should Have Come Over',
  'Radio Ga Ga',
  'La La Land',
  'Hoppípolla',
  'Otis',
  'Song 2',
  "Don't Stop",
  'Highway to Hell',
  'Back in Black',
  'Angel',
  'Angels',
  'Black Star',
  'Blackstar',
  'Star',
  'Stars',
  'Rock and Roll',
  'a',
  'I',
];

/** One slip of each kind in a word: a letter dropped, doubled, changed, two swapped. */
function slips(word: string): string[] {
  if (word.length < 3) return [];
  const i = Math.floor(word.length / 2);
  return [
    word.slice(0, i) + word.slice(i + 1),
    word.slice(0, i) + word[i] + word.slice(i),
    `${word.slice(0, i)}x${word.slice(i + 1)}`,
    word.slice(0, i - 1) + word[i] + word[i - 1] + word.slice(i + 1),
  ];
}

function queries(): string[] {
  const names = [...ARTISTS, ...ALBUM_TITLES, ...SONG_TITLES];
  const words = [...new Set(names.flatMap((n) => n.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter(Boolean))];
  const asked = [
    ...names,
    ...words,
    ...words.flatMap(slips),
    ...words.flatMap((w) => [w.slice(0, 1), w.slice(0, 2), w.slice(0, 4)]),
    'radiohed',
    'teardorp',
    'otsi',
    'bjork',
    'sigur ros',
    'acdc',
    'ac dc',
    'the radio',
    'radio r',
    'a love',
    'love a',
    'x radio',
    'la la',
    'the the the',
    'kid a radiohead',
    'rock n roll',
    'rock-n-roll',
    'nothing matches this',
    "don't",
    '!!!',
    'love love love love love love love love love love',
  ];
  return [...new Set(asked.map((q) => normaliseQuery(q)!).filter(Boolean))];
}

const WINDOWS = [
  { limit: 20, offset: 0 },
  { limit: 3, offset: 2 },
];

describe('search index', () => {
  /** Builds the app's index now, at the current version. */
  const warm = async () => {
    const { searchIndex } = t.app.services.catalog;
    await searchIndex.refresh();
    expect(searchIndex.at(await t.app.services.cache.stamp([SEARCH_TAG]))).toBeDefined();
  };

  beforeAll(async () => {
    const artists = [];
    for (const name of ARTISTS) artists.push(await makeArtist(t.app, admin, { name }));
    const albums = [];
    for (const [i, title] of ALBUM_TITLES.entries()) {
      albums.push(await makeAlbum(t.app, admin, { artistId: artists[i % artists.length]!.id, title }));
    }
    for (const [i, title] of SONG_TITLES.entries()) {
      for (const album of [albums[i % albums.length]!, albums[(i * 7 + 3) % albums.length]!]) {
        await makeSong(t.app, admin, album.id, { title });
      }
    }
    // What users do not see: a hidden artist, a private album, a private song.
    const hidden = await makeArtist(t.app, admin, { name: 'Radiohead Hidden' });
    await call(t.app, 'PATCH', `/api/v1/artists/${hidden.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    const closed = await makeAlbum(t.app, admin, { artistId: artists[0]!.id, title: 'Radio Private' });
    await call(t.app, 'PATCH', `/api/v1/albums/${closed.id}`, { session: admin, body: { isPublic: false } });
    const secret = await makeSong(t.app, admin, albums[0]!.id, { title: 'Teardrop Secret' });
    await call(t.app, 'PATCH', `/api/v1/songs/${secret.id}`, { session: admin, body: { isPublic: false } });
  });

  it('answers every plain search as the database statements do', async () => {
    const db = t.database.db;
    const cache = new Cache(new MemoryCacheStore(), 60);
    const index = createSearchIndex(db, cache);
    await index.refresh();
    const searcher = index.at(await cache.stamp([SEARCH_TAG]));
    expect(searcher).toBeDefined();
    // The same index assembled in this thread, as the worker assembles it (and so measured by
    // the coverage, which does not see into worker threads): both must answer alike.
    const data = await readIndexData(db);
    const here = await assemble(data!.words, data!.readings);
    const lists = {
      artist: listArtists,
      album: listAlbums,
      song: listSongs,
    } as const;
    let compared = 0;
    let found = 0;
    for (const q of queries()) {
      const words = await queryWords(db, q);
      const plain = plainQueryWords(q);
      if (plain) expect(plain, q).toEqual(words);
      // A second window and one past the end, for the first ones.
      const windows = compared < 450 ? [...WINDOWS, { limit: 5, offset: 600 }] : WINDOWS.slice(0, 1);
      for (const window of windows) {
        const pages = searchBuilt(here, { q, words, ...window }, [...INDEXED_TYPES]);
        expect(await searcher!({ q, words, ...window }, [...INDEXED_TYPES])).toEqual(pages);
        for (const type of INDEXED_TYPES) {
          const list = lists[type] as (
            db: unknown,
            filter: object,
          ) => Promise<{ rows: { id: string }[]; total: number }>;
          const expected = await list(db, { scope: { kind: 'listed' }, q, sort: 'relevance', ...window });
          const page = pages.get(type)!;
          expect({ q, type, ...window, ids: page.ids, total: page.total, albumIds: page.albumIds }).toEqual({
            q,
            type,
            ...window,
            ids: expected.rows.map((r) => r.id),
            total: expected.total,
            // A song's album, for the cache tag its row is kept under.
            albumIds:
              type === 'song' ? expected.rows.map((r) => (r as { albumId?: string }).albumId) : undefined,
          });
          compared++;
          found += page.ids.length;
        }
      }
    }
    // The comparison covered pages with rows, not just empty ones.
    expect(compared).toBeGreaterThan(1000);
    expect(found).toBeGreaterThan(2000);
    await index.close();
    // Some 2,000 statements of the database's side: more than a test's usual 20 s on a busy CI.
  }, 90_000);

  it('answers only at the version it was built at', async () => {
    const cache = new Cache(new MemoryCacheStore(), 60);
    const index = createSearchIndex(t.database.db, cache);
    expect(index.at(await cache.stamp([SEARCH_TAG]))).toBeUndefined();
    await index.refresh();
    const before = await cache.stamp([SEARCH_TAG]);
    expect(index.at(before)).toBeDefined();
    await cache.invalidate(SEARCH_TAG);
    expect(index.at(await cache.stamp([SEARCH_TAG]))).toBeUndefined();
    await index.close();
  });

  it('answers nothing once its worker thread is gone, and builds again in a new one', async () => {
    const cache = new Cache(new MemoryCacheStore(), 60);
    const index = createSearchIndex(t.database.db, cache);
    const query = { q: 'teardorp', words: ['teardorp'], limit: 5, offset: 0 };
    try {
      await index.refresh();
      const stamp = await cache.stamp([SEARCH_TAG]);
      const searcher = index.at(stamp)!;
      const pages = await searcher(query, ['song']);
      expect(pages!.get('song')!.ids.length).toBeGreaterThan(0);
      await index.close();
      // The copy still names its generation, but no worker holds it: the caller asks the database.
      expect(await searcher(query, ['song'])).toBeUndefined();
      await index.refresh();
      expect(await index.at(stamp)!(query, ['song'])).toEqual(pages);
    } finally {
      await index.close();
    }
  });

  it('serves /search from a warm index and shows every kind of write at once', async () => {
    const { catalog } = t.app.services;
    const search = async (q: string, type: IndexedType) => {
      const res = await get(`/api/v1/search?q=${encodeURIComponent(q)}&type=${type}`);
      expect(res.status).toBe(200);
      return res.body[`${type}s`];
    };

    // The same answer, field for field, from the database and then from the index.
    const asked = ['teardorp', 'radiohed', 'love', 'ac/dc', 'sigur ros', 'kid a radiohead'];
    const fromDatabase = [];
    for (const q of asked) fromDatabase.push((await get(`/api/v1/search?q=${encodeURIComponent(q)}`)).body);
    expect(catalog.searchIndex.builds).toBe(0);
    await warm();
    for (const [i, q] of asked.entries()) {
      expect((await get(`/api/v1/search?q=${encodeURIComponent(q)}`)).body).toEqual(fromDatabase[i]);
    }
    const teardrop = await search('teardorp', 'song');
    expect(teardrop.items.map((s: { title: string }) => s.title)).toContain('Teardrop');
    expect(teardrop.items.map((s: { title: string }) => s.title)).not.toContain('Teardrop Secret');
    // A song carries its album's title as the database path gives it.
    expect(teardrop.items[0].album.title).toEqual(expect.any(String));

    // A new song.
    const artist = await makeArtist(t.app, admin, { name: 'Zanzibar Quartet' });
    const album = await makeAlbum(t.app, admin, { artistId: artist.id, title: 'Quartet Live' });
    await warm();
    const song = await makeSong(t.app, admin, album.id, { title: 'Xylophone Morning' });
    expect(ids(await search('xylophon', 'song'))).toEqual([song.id]);

    // A rename.
    await warm();
    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, {
      session: admin,
      body: { title: 'Vibraphone Evening' },
    });
    expect(ids(await search('xylophone', 'song'))).toEqual([]);
    expect(ids(await search('vibraphone', 'song'))).toEqual([song.id]);

    // A song made private, then an album, then an artist hidden, then one renamed.
    await warm();
    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, { session: admin, body: { isPublic: false } });
    expect(ids(await search('vibraphone', 'song'))).toEqual([]);
    await warm();
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: false } });
    expect(ids(await search('quartet live', 'album'))).toEqual([]);
    await warm();
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    expect(ids(await search('zanzibar', 'artist'))).toEqual([]);
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, { session: admin, body: { isVisible: true } });
    await warm();
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { name: 'Zanzibar Trio' },
    });
    expect(ids(await search('zanzibar trio', 'artist'))).toEqual([artist.id]);

    // A deletion.
    const gone = await makeSong(t.app, admin, album.id, { title: 'Ephemeral Tune' });
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: true } });
    await warm();
    expect(ids(await search('ephemeral', 'song'))).toEqual([gone.id]);
    await call(t.app, 'DELETE', `/api/v1/songs/${gone.id}`, { session: admin });
    expect(ids(await search('ephemeral', 'song'))).toEqual([]);
  });

  it('keeps the rows it serves current: counters and names show at once, rebuilt or not', async () => {
    const { discovery } = t.app.services;
    const found = async () => {
      const { body } = await get('/api/v1/search?q=marimba');
      return { artist: body.artists.items[0], album: body.albums.items[0], song: body.songs.items[0] };
    };
    const artist = await makeArtist(t.app, admin, { name: 'Marimba Ensemble' });
    const album = await makeAlbum(t.app, admin, { artistId: artist.id, title: 'Marimba Nights' });
    const song = await makeSong(t.app, admin, album.id, { title: 'Marimba Dance' });
    await warm();
    // The rows read by this search are kept (a song under its album's tag, which the index knows).
    expect(await found()).toMatchObject({
      artist: { id: artist.id, followerCount: 0 },
      album: { id: album.id, followerCount: 0, popularity: 0 },
      song: { id: song.id, playCount: 0 },
    });
    const fan = await register(t.app);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: fan });
    await call(t.app, 'PUT', `/api/v1/me/following/artists/${artist.id}`, { session: fan });
    const played = await call(t.app, 'POST', `/api/v1/songs/${song.id}/plays`, {
      session: fan,
      body: { event: 'play', positionMs: 0 },
    });
    expect(played.status).toBe(202);
    await discovery.flushPlays();
    const after = await found();
    expect(after).toMatchObject({
      artist: { followerCount: 1 },
      album: { followerCount: 1 },
      song: { playCount: 1 },
    });
    expect(after.album.popularity).toBeGreaterThan(0);
    // Names: the index is built again, the rows it finds are read again.
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { title: 'Marimba Days' },
    });
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { name: 'Marimba Duo' },
    });
    await warm();
    expect(await found()).toMatchObject({
      artist: { name: 'Marimba Duo', followerCount: 1 },
      album: { title: 'Marimba Days', artist: { name: 'Marimba Duo' } },
      song: { album: { title: 'Marimba Days' }, artist: { name: 'Marimba Duo' }, playCount: 1 },
    });
    // The index remembers its answers, but only its own: a query asked of the old index is
    // answered anew by the next one.
    const finale = await makeSong(t.app, admin, album.id, { title: 'Marimba Finale' });
    await warm();
    expect(ids((await get('/api/v1/search?q=marimba&type=song')).body.songs).sort()).toEqual(
      [song.id, finale.id].sort(),
    );
  });

  it('leaves an artist account its own unlisted songs, and admins their view', async () => {
    const artist = await makeArtist(t.app, admin, { name: 'Quiet Owner' });
    const album = await makeAlbum(t.app, admin, { artistId: artist.id, title: 'Owned Album' });
    const song = await makeSong(t.app, admin, album.id, { title: 'Unheard Melody' });
    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, { session: admin, body: { isPublic: false } });
    const owner = await makeArtistAccount(t.app, admin, artist.id);
    await t.app.services.catalog.searchIndex.refresh();
    expect(ids((await get('/api/v1/search?q=unheard&type=song')).body.songs)).toEqual([]);
    const own = await call(t.app, 'GET', '/api/v1/search?q=unheard&type=song', { session: owner });
    expect(ids(own.body.songs)).toEqual([song.id]);
    // Admins search what users see, with the fields only admins get.
    const asAdmin = await call(t.app, 'GET', '/api/v1/search?q=owned&type=album', { session: admin });
    expect(ids(asAdmin.body.albums)).toEqual([album.id]);
    expect(asAdmin.body.albums.items[0]).toHaveProperty('isVisible', true);
    const asUser = await get('/api/v1/search?q=owned&type=album');
    expect(asUser.body.albums.items[0]).not.toHaveProperty('isVisible');
  });
});
