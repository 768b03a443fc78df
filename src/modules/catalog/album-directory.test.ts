import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, unique } from '../../../test/factories.js';
import { call } from '../../../test/helpers.js';
import { Cache, MemoryCacheStore } from '../../platform/cache.js';
import { createAlbumDirectory, type DirectoryQuery } from './album-directory.js';
import { ALBUM_LISTS_TAG } from './catalog.cache.js';
import { ALBUM_SORTS, listAlbums } from './catalog.repo.js';
import { AlbumSchema } from './catalog.schemas.js';
import { ALBUM_TYPES } from './catalog.tables.js';

useAppWithAdminAndUser();

// Titles whose order depends on case, accents and code points; genres that differ in case only.
const TITLES = [
  'abc',
  'ABC',
  'Ábc',
  'émile',
  'Emile',
  'zed',
  'Zed',
  '_under',
  '123',
  'ß',
  'Ωmega',
  '😀 smile',
];
const GENRES = ['Rock', 'rock', 'Jazz', 'Électro', 'ambient'];
const YEARS = [1999, 2001, 2001, 2003, 2010];

/** Every page the directory may answer, checked against the database's own statements. */
function queries(): DirectoryQuery[] {
  const filters: Omit<DirectoryQuery, 'sort' | 'limit' | 'offset' | 'scope'>[] = [
    {},
    { genres: ['rock'] },
    { genres: ['jazz', 'rock'] },
    { genres: ['électro'] },
    { genres: ['nothing-here'] },
    { genres: ['rock', 'nothing-here'] },
    { year: 2001 },
    { yearFrom: 2001 },
    { yearTo: 2003, yearFrom: 2000 },
    { genres: ['rock'], yearFrom: 2001, yearTo: 2010, types: ['single', 'ep'] },
    { types: ['album'] },
    { types: ['single', 'compilation'], year: 2001 },
    { year: 2001, yearFrom: 2003 },
    { year: 2003, yearFrom: 2001, yearTo: 2005, genres: ['jazz', 'ambient', 'rock'] },
    { genres: [], types: [], q: '' },
  ];
  const windows = [
    { limit: 20, offset: 0 },
    { limit: 3, offset: 2 },
    { limit: 5, offset: 40 },
    { limit: 1, offset: 1000 },
  ];
  return filters.flatMap((filter) =>
    ALBUM_SORTS.flatMap((field) =>
      [false, true].flatMap((descending) =>
        windows.map((window) => ({
          scope: { kind: 'listed' as const },
          ...filter,
          sort: { field, descending },
          ...window,
        })),
      ),
    ),
  );
}

describe('album directory', () => {
  let cache: Cache;
  const stamp = () => cache.stamp([ALBUM_LISTS_TAG]);

  beforeAll(async () => {
    cache = new Cache(new MemoryCacheStore(), 60);
    const artists = await Promise.all([0, 1, 2].map(() => makeArtist(t.app, admin)));
    let n = 0;
    for (const title of TITLES) {
      for (const genre of GENRES.slice(0, 3)) {
        const k = n++;
        await makeAlbum(t.app, admin, {
          artistId: artists[k % 3]!.id,
          title,
          genre: k % 4 === 0 ? GENRES[3 + (k % 2)] : genre,
          releaseYear: YEARS[k % YEARS.length],
          albumType: ALBUM_TYPES[k % ALBUM_TYPES.length],
        });
      }
    }
    // Albums users do not see: hidden by an admin, private, scheduled.
    await makeAlbum(t.app, admin, { artistId: artists[0]!.id, title: unique('hidden'), isVisible: false });
    await makeAlbum(t.app, admin, { artistId: artists[0]!.id, title: unique('private'), isPublic: false });
    await makeAlbum(t.app, admin, {
      artistId: artists[1]!.id,
      title: unique('scheduled'),
      publishAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    // Counters with many ties, so ties are broken by id as the statements break them.
    await t.database.db.execute(sql`update albums set follower_count = (ascii(md5(id::text)) % 3),
      popularity = (ascii(md5(id::text || 'p')) % 4), song_count = (ascii(md5(id::text || 's')) % 2)`);
  });

  it('answers every browsed page exactly as the database does', async () => {
    const directory = createAlbumDirectory(t.database.db, cache);
    await directory.refresh();
    const at = await stamp();
    const all = queries();
    for (const query of all) {
      const expected = await listAlbums(t.database.db, query);
      const answered = directory.page(at, query);
      expect(answered, JSON.stringify(query)).toEqual(expected);
    }
    // The fixture is not trivial: pages have rows and differ by sort.
    const first = directory.page(at, all[0]!)!;
    expect(first.total).toBe(TITLES.length * 3);
    expect(first.rows).toHaveLength(20);
  });

  it('answers only the listed scope, browsing filters and a sort', async () => {
    const directory = createAlbumDirectory(t.database.db, cache);
    await directory.refresh();
    const at = await stamp();
    const base: DirectoryQuery = {
      scope: { kind: 'listed' },
      sort: { field: 'title', descending: false },
      limit: 20,
      offset: 0,
    };
    expect(directory.page(at, base)).toBeDefined();
    const artistId = (await listAlbums(t.database.db, base)).rows[0]!.artistId;
    for (const other of [
      { scope: { kind: 'all' as const } },
      { scope: { kind: 'own' as const, artistId } },
      { sort: 'relevance' as const, q: 'abc' },
      { q: 'abc' },
      { artistId },
      { artistName: 'someone' },
    ]) {
      expect(directory.page(at, { ...base, ...other }), JSON.stringify(other)).toBeUndefined();
    }
  });

  it('answers only at the version it was built for, and is built again after a write', async () => {
    const directory = createAlbumDirectory(t.database.db, cache);
    const query: DirectoryQuery = {
      scope: { kind: 'listed' },
      sort: { field: 'followerCount', descending: true },
      limit: 1,
      offset: 0,
    };
    // Not built yet: the caller asks the database.
    expect(directory.page(await stamp(), query)).toBeUndefined();
    await directory.refresh();
    const before = directory.page(await stamp(), query)!;
    expect(before.rows).toHaveLength(1);

    const [top] = before.rows;
    await t.database.db.execute(sql`update albums set follower_count = 1000 where id = (
      select id from albums where listed and id <> ${top!.id} order by id desc limit 1)`);
    await cache.invalidate(ALBUM_LISTS_TAG);
    const at = await stamp();
    // Stale: not answered (the old stamp neither reaches it any more), and a build is due.
    expect(directory.page(at, query)).toBeUndefined();
    await directory.refresh();
    const after = directory.page(at, query)!;
    expect(after.rows[0]!.followerCount).toBe(1000);
    expect(after).toEqual(await listAlbums(t.database.db, query));
  });

  it('stops answering once a cached list would have expired', async () => {
    let clock = 1_000_000;
    const directory = createAlbumDirectory(t.database.db, cache, () => clock);
    await directory.refresh();
    const query: DirectoryQuery = {
      scope: { kind: 'listed' },
      sort: { field: 'releaseYear', descending: false },
      limit: 5,
      offset: 0,
    };
    const at = await stamp();
    expect(directory.page(at, query)).toBeDefined();
    clock += 59_000;
    // Past three quarters of its life it still answers, and is built again meanwhile.
    expect(directory.page(at, query)).toBeDefined();
    clock += 2_000;
    expect(directory.page(at, query)).toBeUndefined();
    await directory.refresh();
    expect(directory.page(at, query)).toEqual(await listAlbums(t.database.db, query));
  });

  it('is built again once the lists are quiet, not while writes keep coming', async () => {
    let clock = 5_000_000;
    const directory = createAlbumDirectory(t.database.db, cache, () => clock);
    const query: DirectoryQuery = {
      scope: { kind: 'listed' },
      sort: { field: 'title', descending: false },
      limit: 2,
      offset: 0,
    };
    // A write every 200 ms for 5 s: every page finds a new version, and no build starts.
    for (let i = 0; i < 25; i++) {
      await cache.invalidate(ALBUM_LISTS_TAG);
      expect(directory.page(await stamp(), query)).toBeUndefined();
      clock += 200;
    }
    expect(directory.builds).toBe(0);
    // One version for a second: the next page starts a build, and pages after it are answered.
    const at = await stamp();
    expect(directory.page(at, query)).toBeUndefined();
    clock += 1_000;
    expect(directory.page(at, query)).toBeUndefined();
    expect(directory.builds).toBe(1);
    await directory.refresh();
    expect(directory.builds).toBe(1);
    expect(directory.page(at, query)).toEqual(await listAlbums(t.database.db, query));
  });

  it('keeps a page it answered in the response cache from its second request on', async () => {
    const { catalog, cache: appCache } = t.app.services;
    await catalog.albumDirectory.refresh();
    const query = { genre: ['rock'], sort: '-releaseYear', limit: 3, offset: 0 };
    const [first, second, third] = [
      await catalog.listAlbums(null, query),
      await catalog.listAlbums(null, query),
      await catalog.listAlbums(null, query),
    ];
    expect(second).toEqual(first);
    // The first answer was not kept (a new object came next); the second was, and is read back.
    expect(second).not.toBe(first);
    if (appCache.store.kind === 'memory') expect(third).toBe(second);
  });

  it('over HTTP, writes a page it answers byte for byte as the database path writes it', async () => {
    const genre = unique('genre');
    const artist = await makeArtist(t.app, admin);
    await makeAlbum(t.app, admin, {
      artistId: artist.id,
      genre,
      releaseYear: 2011,
      releaseDate: '2011-03-04',
      title: 'Quote " back\\slash \u2603 \u00e9 😀',
      label: 'Tab\there </script>',
    });
    // Nothing optional given: label, releaseDate, coverUrl and publishAt are null.
    await makeAlbum(t.app, admin, { artistId: artist.id, genre, releaseYear: 2012, title: 'plain' });
    const url = `/api/v1/albums?genre=${genre}&sort=releaseYear&limit=5`;
    const { catalog, cache: appCache } = t.app.services;
    const query = {
      scope: { kind: 'listed' as const },
      genres: [genre.toLowerCase()],
      sort: { field: 'releaseYear' as const, descending: false },
      limit: 5,
      offset: 0,
    };
    await catalog.albumDirectory.refresh();
    expect(catalog.albumDirectory.page(await appCache.stamp([ALBUM_LISTS_TAG]), query)?.total).toBe(2);
    // First request (not kept), second (kept), and an admin's (views built per request).
    const fromDirectory = [(await get(url)).raw.payload, (await get(url)).raw.payload];
    const adminPage = JSON.parse((await get(url, admin)).raw.payload);
    // A write elsewhere: the directory is stale, so the database answers the same page.
    await makeAlbum(t.app, admin, { genre: unique('genre') });
    expect(catalog.albumDirectory.page(await appCache.stamp([ALBUM_LISTS_TAG]), query)).toBeUndefined();
    const fromDatabase = (await get(url)).raw.payload;
    expect(fromDirectory).toEqual([fromDatabase, fromDatabase]);
    expect(JSON.stringify(JSON.parse(fromDatabase))).toBe(fromDatabase);
    const [dated, plain] = JSON.parse(fromDatabase).items;
    expect(dated).toMatchObject({
      title: 'Quote " back\\slash \u2603 \u00e9 😀',
      label: 'Tab\there </script>',
      releaseDate: '2011-03-04',
    });
    expect(plain).toMatchObject({ label: null, releaseDate: null, coverUrl: null, publishAt: null });
    // Each item's fields in its schema's order, the page's in the page schema's.
    const fields = Object.keys(AlbumSchema.properties).filter((field) => field !== 'isVisible');
    expect([Object.keys(dated), Object.keys(plain)]).toEqual([fields, fields]);
    expect(Object.keys(JSON.parse(fromDatabase))).toEqual([
      'items',
      'total',
      'limit',
      'offset',
      'next',
      'previous',
    ]);
    expect(adminPage.items.map((a: { isVisible: boolean }) => a.isVisible)).toEqual([true, true]);
    expect(adminPage.items.map(({ isVisible, ...rest }: { isVisible: boolean }) => rest)).toEqual([
      dated,
      plain,
    ]);
  });

  it('over HTTP, a browsed page shows a follow at once, while the directory is warm', async () => {
    const rock = unique('genre');
    const albums = await Promise.all(
      [0, 1, 2].map(() => makeAlbum(t.app, admin, { genre: rock, releaseYear: 2020 })),
    );
    const url = `/api/v1/albums?genre=${rock}&sort=-followerCount&limit=1`;
    await t.app.services.catalog.albumDirectory.refresh();
    for (let offset = 1; offset < 3; offset++) {
      expect((await get(`${url}&offset=${offset}`)).body.total).toBe(3);
    }
    const last = albums.sort((a, b) => (a.id < b.id ? -1 : 1))[2]!;
    const follow = await call(t.app, 'PUT', `/api/v1/me/following/albums/${last.id}`, { session: admin });
    expect(follow.status).toBeLessThan(300);
    const page = (await get(`${url}&offset=0`)).body;
    expect(page.items.map((a: { id: string }) => a.id)).toEqual([last.id]);
    expect(page.items[0].followerCount).toBe(1);
    // Users' view: the admin-only switch is not shown; an admin's page shows it.
    await t.app.services.catalog.albumDirectory.refresh();
    for (let offset = 0; offset < 3; offset++) {
      expect((await get(`${url}&offset=${offset}`)).body.items[0]).not.toHaveProperty('isVisible');
      expect((await get(`${url}&offset=${offset}`, admin)).body.items[0].isVisible).toBe(true);
    }
  });
});
