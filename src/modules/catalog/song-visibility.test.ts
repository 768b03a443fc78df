import { beforeAll, describe, expect, it } from 'vitest';
import { admin, get, ids, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import { call, type Session } from '../../../test/helpers.js';

useAppWithAdminAndUser();

const api = (path: string) => `/api/v1${path}`;
const patchSong = (session: Session, id: string, body: Record<string, unknown>) =>
  call(t.app, 'PATCH', api(`/songs/${id}`), { session, body });
const songIds = (items: { id: string }[]) => items.map((s) => s.id);

/** An artist with an artist account, one album and its songs A, B, C (1, 2 and 3 minutes). */
async function catalogOfOwner() {
  const artist = await makeArtist(t.app, admin, { name: unique('Owner') });
  const owner = await makeArtistAccount(t.app, admin, artist.id);
  const album = await makeAlbum(t.app, admin, { artistId: artist.id, genre: unique('Genre') });
  const songs: { id: string; title: string }[] = [];
  for (const [i, letter] of ['A', 'B', 'C'].entries()) {
    songs.push(
      await makeSong(t.app, owner, album.id, { title: unique(letter), durationMs: (i + 1) * 60_000 }),
    );
  }
  const [a, b, c] = songs as [(typeof songs)[0], (typeof songs)[0], (typeof songs)[0]];
  return { artist, owner, album, a, b, c };
}

describe('a song hidden by its owner', () => {
  let world: Awaited<ReturnType<typeof catalogOfOwner>>;
  let playlistId: string;
  let albumEtag: string;

  beforeAll(async () => {
    world = await catalogOfOwner();
    const { album, a, b, c } = world;
    const playlist = await call(t.app, 'POST', api('/playlists'), { session: user, body: { name: 'Mix' } });
    playlistId = playlist.body.id;
    const added = await call(t.app, 'POST', api(`/playlists/${playlistId}/tracks`), {
      session: user,
      body: { songIds: [a.id, b.id, c.id] },
    });
    expect(added.status).toBe(200);
    expect(
      (await call(t.app, 'POST', api(`/songs/${b.id}/plays`), { session: user, body: { event: 'play' } }))
        .status,
    ).toBe(202);
    // Warm every cache the switch must invalidate: album detail, its ETag and the album list.
    const detail = await get(api(`/albums/${album.id}`));
    expect(detail.body).toMatchObject({ songCount: 3, durationMs: 360_000 });
    albumEtag = String(detail.headers.etag);
    expect((await get(api(`/albums?artistId=${album.artist.id}`))).body.items[0].songCount).toBe(3);
    expect((await get(api(`/playlists/${playlistId}`), user)).body.trackCount).toBe(3);
    await t.app.services.discovery.flushPlays();

    const hidden = await patchSong(world.owner, b.id, { isPublic: false });
    expect(hidden.status).toBe(200);
    expect(hidden.body.isPublic).toBe(false);
    expect(hidden.body).not.toHaveProperty('isVisible');
  });

  it('leaves the cached album detail, its counters and the album list at once', async () => {
    const { album, a, c } = world;
    const detail = await get(api(`/albums/${album.id}`), undefined, { 'if-none-match': albumEtag });
    expect(detail.status).toBe(200);
    expect(songIds(detail.body.songs)).toEqual([a.id, c.id]);
    expect(detail.body).toMatchObject({ songCount: 2, durationMs: 240_000 });
    const songsPage = await get(api(`/albums/${album.id}/songs`));
    expect(songsPage.body).toMatchObject({ total: 2 });
    expect(ids(songsPage.body)).toEqual([a.id, c.id]);
    const list = await get(api(`/albums?artistId=${album.artist.id}`));
    expect(list.body.items[0]).toMatchObject({ songCount: 2, durationMs: 240_000 });
  });

  it('vanishes from the playlist without breaking positions', async () => {
    const { a, c } = world;
    const playlist = await get(api(`/playlists/${playlistId}`), user);
    expect(playlist.body.trackCount).toBe(2);
    expect(playlist.body.durationMs).toBe(240_000);
    expect(
      playlist.body.tracks.map((tr: { position: number; song: { id: string } }) => [tr.position, tr.song.id]),
    ).toEqual([
      [0, a.id],
      [1, c.id],
    ]);
    const again = await call(t.app, 'POST', api(`/playlists/${playlistId}/tracks`), {
      session: user,
      body: { songIds: [world.b.id] },
    });
    expect(again.status).toBe(400);
  });

  it('is gone from song reads, lists, search, trending and recently played for users', async () => {
    const { album, b } = world;
    expect((await get(api(`/songs/${b.id}`))).status).toBe(404);
    expect((await get(api(`/songs/${b.id}`), user)).status).toBe(404);
    expect(ids((await get(api(`/songs?albumId=${album.id}`))).body)).not.toContain(b.id);
    const found = await get(api(`/search?q=${encodeURIComponent(b.title)}&type=song`));
    expect(ids(found.body.songs)).not.toContain(b.id);
    const trending = await get(api('/songs/trending?window=24h&limit=100'));
    expect(trending.body.items.map((i: { song: { id: string } }) => i.song.id)).not.toContain(b.id);
    const recent = await get(api('/me/recently-played'), user);
    expect(recent.body.items.map((i: { song: { id: string } }) => i.song.id)).not.toContain(b.id);
    expect((await get(api(`/songs/${b.id}/similar`))).status).toBe(404);
    const genres = await get(api('/stats/genres'));
    const genre = genres.body.items.find((g: { genre: string }) => g.genre === album.genre);
    expect(genre).toMatchObject({ albumCount: 1, songCount: 2 });
  });

  it('stays for its owner (without isVisible) and admins (with it)', async () => {
    const { album, b, owner } = world;
    const own = await get(api(`/songs/${b.id}`), owner);
    expect(own.status).toBe(200);
    expect(own.body).not.toHaveProperty('isVisible');
    expect(songIds((await get(api(`/albums/${album.id}`), owner)).body.songs)).toContain(b.id);
    expect((await get(api(`/albums/${album.id}/songs`), owner)).body.total).toBe(3);
    expect(ids((await get(api(`/songs?albumId=${album.id}`), owner)).body)).toContain(b.id);
    const asAdmin = await get(api(`/songs/${b.id}`), admin);
    expect(asAdmin.body).toMatchObject({ isPublic: false, isVisible: true });
    expect(ids((await get(api('/songs?visibility=hidden&limit=100'), admin)).body)).toContain(b.id);
    expect(ids((await get(api(`/songs?albumId=${album.id}`), admin)).body)).not.toContain(b.id);
  });

  it('comes back everywhere when made public again', async () => {
    const { album, a, b, c, owner } = world;
    expect((await patchSong(owner, b.id, { isPublic: true })).status).toBe(200);
    const detail = await get(api(`/albums/${album.id}`));
    expect(songIds(detail.body.songs)).toEqual([a.id, b.id, c.id]);
    expect(detail.body.songCount).toBe(3);
    const playlist = await get(api(`/playlists/${playlistId}`), user);
    expect(playlist.body.tracks.map((tr: { song: { id: string } }) => tr.song.id)).toEqual([
      a.id,
      b.id,
      c.id,
    ]);
    await patchSong(owner, b.id, { isPublic: false });
  });
});

describe("the admin's switch and the album's rules", () => {
  it('lets only admins change isVisible, on creation and on change', async () => {
    const { owner, album, a } = await catalogOfOwner();
    const denied = await patchSong(owner, a.id, { isVisible: false });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('ADMIN_ONLY_FIELD');
    const create = await call(t.app, 'POST', api(`/albums/${album.id}/songs`), {
      session: owner,
      body: { title: 'X', durationMs: 1000, isVisible: false },
    });
    expect(create.status).toBe(403);
    const hidden = await patchSong(admin, a.id, { isVisible: false });
    expect(hidden.body).toMatchObject({ isPublic: true, isVisible: false });
    expect((await get(api(`/songs/${a.id}`), user)).status).toBe(404);
    // The owner still sees it, as they see an album an admin hid.
    expect((await get(api(`/songs/${a.id}`), owner)).status).toBe(200);
    expect((await get(api(`/albums/${album.id}`))).body.songCount).toBe(2);
  });

  it('lists a song only when it and its album are', async () => {
    const { owner, album, a, b } = await catalogOfOwner();
    await patchSong(owner, b.id, { isPublic: false });
    await call(t.app, 'PATCH', api(`/albums/${album.id}`), { session: owner, body: { isPublic: false } });
    expect((await get(api(`/songs/${a.id}`))).status).toBe(404);
    await call(t.app, 'PATCH', api(`/albums/${album.id}`), { session: owner, body: { isPublic: true } });
    expect((await get(api(`/songs/${a.id}`))).status).toBe(200);
    expect((await get(api(`/songs/${b.id}`))).status).toBe(404);
    // The same when the artist is hidden and shown again.
    await call(t.app, 'PATCH', api(`/artists/${album.artist.id}`), {
      session: admin,
      body: { isVisible: false },
    });
    expect((await get(api(`/songs/${a.id}`))).status).toBe(404);
    await call(t.app, 'PATCH', api(`/artists/${album.artist.id}`), {
      session: admin,
      body: { isVisible: true },
    });
    expect((await get(api(`/songs/${a.id}`))).status).toBe(200);
    expect((await get(api(`/songs/${b.id}`))).status).toBe(404);
  });

  it('creates a private song that counts nowhere and notifies no follower', async () => {
    const { owner, album } = await catalogOfOwner();
    expect(
      (await call(t.app, 'PUT', api(`/me/following/albums/${album.id}`), { session: user })).status,
    ).toBe(204);
    const secret = await makeSong(t.app, owner, album.id, { title: unique('Secret'), isPublic: false });
    const shown = await makeSong(t.app, owner, album.id, { title: unique('Shown') });
    expect(secret.isPublic).toBe(false);
    expect((await get(api(`/albums/${album.id}`))).body.songCount).toBe(4);
    const feed = await get(api('/me/notifications?limit=100'), user);
    const about = feed.body.items.map((n: { song: { id: string } | null }) => n.song?.id);
    expect(about).toContain(shown.id);
    expect(about).not.toContain(secret.id);
  });
});
