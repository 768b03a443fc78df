import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call } from '../../../test/helpers.js';

useAppWithAdminAndUser();

const api = (path: string) => `/api/v1${path}`;

describe('albumType', () => {
  let artistId: string;
  const byType: Record<string, string> = {};

  beforeAll(async () => {
    artistId = (await makeArtist(t.app, admin)).id;
    for (const albumType of ['album', 'single', 'ep', 'compilation']) {
      byType[albumType] = (await makeAlbum(t.app, admin, { artistId, albumType })).id;
    }
  });

  it('defaults to album and shows on every album', async () => {
    const plain = await makeAlbum(t.app, admin, { artistId });
    expect(plain.albumType).toBe('album');
    expect((await get(api(`/albums/${byType.single}`))).body.albumType).toBe('single');
    await call(t.app, 'DELETE', api(`/albums/${plain.id}`), { session: admin });
  });

  it('lets an artist release a song on its own as a single', async () => {
    const artist = await makeArtist(t.app, admin);
    const owner = await makeArtistAccount(t.app, admin, artist.id);
    const single = await call(t.app, 'POST', api('/albums'), {
      session: owner,
      body: { title: 'One Song', artistId: artist.id, genre: 'Pop', releaseYear: 2024, albumType: 'single' },
    });
    expect(single.status).toBe(201);
    const song = await makeSong(t.app, owner, single.body.id, { title: 'One Song' });
    const detail = await get(api(`/albums/${single.body.id}`));
    expect(detail.body).toMatchObject({ albumType: 'single', songCount: 1, songs: [{ id: song.id }] });
    const changed = await call(t.app, 'PATCH', api(`/albums/${single.body.id}`), {
      session: owner,
      body: { albumType: 'ep' },
    });
    expect(changed.body.albumType).toBe('ep');
  });

  it('filters by type, repeatable, and refuses an unknown one', async () => {
    const one = await get(api(`/albums?artistId=${artistId}&type=single`));
    expect(ids(one.body)).toEqual([byType.single]);
    const two = await get(api(`/albums?artistId=${artistId}&type=ep&type=compilation&sort=createdAt`));
    expect(ids(two.body)).toEqual([byType.ep, byType.compilation]);
    expect(two.body.next).toBeNull();
    for (const bad of ['type=lp', 'type=Single']) {
      const res = await get(api(`/albums?${bad}`));
      expect(res.status, bad).toBe(400);
      expect(res.body.errors[0].path).toMatch(/^\/type/);
    }
    const body = await call(t.app, 'POST', api('/albums'), {
      session: admin,
      body: { title: 'X', artistId, genre: 'Rock', releaseYear: 2000, albumType: 'mixtape' },
    });
    expect(body.status).toBe(400);
  });
});

describe('song filters: year, yearFrom, yearTo, artist', () => {
  let artistName: string;
  const songOf: Record<number, string> = {};

  beforeAll(async () => {
    artistName = unique('Year Artist');
    const artist = await makeArtist(t.app, admin, { name: artistName });
    for (const year of [1990, 2000, 2010]) {
      const album = await makeAlbum(t.app, admin, { artistId: artist.id, releaseYear: year });
      songOf[year] = (await makeSong(t.app, admin, album.id)).id;
    }
    // The same years by someone else, so the artist filter has something to leave out.
    const other = await makeAlbum(t.app, admin, { releaseYear: 2000 });
    await makeSong(t.app, admin, other.id);
  });

  const list = async (query: string) => {
    const res = await get(api(`/songs?artist=${encodeURIComponent(artistName)}&sort=createdAt&${query}`));
    expect(res.status, query).toBe(200);
    return ids(res.body);
  };

  it('filters by the album release year, inclusive bounds', async () => {
    expect(await list('year=2000')).toEqual([songOf[2000]]);
    expect(await list('yearFrom=2000')).toEqual([songOf[2000], songOf[2010]]);
    expect(await list('yearTo=2000')).toEqual([songOf[1990], songOf[2000]]);
    expect(await list('yearFrom=1991&yearTo=2010')).toEqual([songOf[2000], songOf[2010]]);
    const bad = await get(api('/songs?yearFrom=2010&yearTo=2000'));
    expect(bad.status).toBe(400);
  });

  it('matches the whole artist name case-insensitively', async () => {
    expect(await list('')).toHaveLength(3);
    const upper = await get(api(`/songs?artist=${encodeURIComponent(artistName.toUpperCase())}`));
    expect(upper.body.total).toBe(3);
    const partial = await get(api(`/songs?artist=${encodeURIComponent(artistName.slice(0, 6))}`));
    expect(partial.body.total).toBe(0);
  });

  it("follows a change of the album's release year", async () => {
    const song = (await get(api(`/songs/${songOf[1990]}`))).body;
    await call(t.app, 'PATCH', api(`/albums/${song.album.id}`), {
      session: admin,
      body: { releaseYear: 1995 },
    });
    expect(await list('year=1995')).toEqual([songOf[1990]]);
    expect(await list('year=1990')).toEqual([]);
  });
});

describe('GET /songs?ids=', () => {
  let shown: string[];
  let hidden: string;
  let ownerSession: Awaited<ReturnType<typeof makeArtistAccount>>;

  beforeAll(async () => {
    const artist = await makeArtist(t.app, admin);
    ownerSession = await makeArtistAccount(t.app, admin, artist.id);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    shown = [];
    for (let i = 0; i < 3; i++) shown.push((await makeSong(t.app, admin, album.id)).id);
    hidden = (await makeSong(t.app, admin, album.id, { isPublic: false })).id;
  });

  it('answers the songs the caller may see, in the order asked', async () => {
    const unknown = '01890000-0000-7000-8000-000000000000';
    const asked = [shown[2], unknown, hidden, shown[0], shown[1]].join(',');
    const res = await get(api(`/songs?ids=${asked}`), user);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([shown[2], shown[0], shown[1]]);
    expect(res.body).toMatchObject({ total: 3, offset: 0, next: null, previous: null });
    expect(ids((await get(api(`/songs?ids=${asked}`), ownerSession)).body)).toEqual([
      shown[2],
      hidden,
      shown[0],
      shown[1],
    ]);
    const asAdmin = await get(api(`/songs?ids=${hidden}`), admin);
    expect(asAdmin.body.items).toMatchObject([{ id: hidden, isPublic: false, isVisible: true }]);
    expect((await get(api(`/songs?ids=${hidden}`))).body).toMatchObject({ items: [], total: 0 });
  });

  it('refuses more than 50 ids, a malformed one, and other parameters alongside', async () => {
    const many = Array.from({ length: 51 }, () => shown[0]).join(',');
    const tooMany = await get(api(`/songs?ids=${many}`));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].path).toBe('/ids');
    const fifty = await get(api(`/songs?ids=${Array.from({ length: 50 }, () => shown[0]).join(',')}`));
    expect(fifty.status).toBe(200);
    for (const query of [`ids=${shown[0]},nope`, `ids=${shown[0]},`, 'ids=']) {
      const res = await get(api(`/songs?${query}`));
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const mixed = await get(api(`/songs?ids=${shown[0]}&genre=Rock`));
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors[0].path).toBe('/genre');
  });
});
