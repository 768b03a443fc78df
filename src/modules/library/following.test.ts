import { describe, expect, it } from 'vitest';
import { admin, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount } from '../../../test/factories.js';
import { call, register, type Session } from '../../../test/helpers.js';

useAppWithAdminAndUser();

const followersOfAlbum = async (id: string) =>
  (await call(t.app, 'GET', `/api/v1/albums/${id}`, { session: admin })).body.followerCount;
const followersOfArtist = async (id: string) =>
  (await call(t.app, 'GET', `/api/v1/artists/${id}`, { session: admin })).body.followerCount;

describe('following albums', () => {
  it('follows and unfollows idempotently, moving the follower count only on a real change', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    // A cached read before the follow: the follow must invalidate it.
    expect(await followersOfAlbum(album.id)).toBe(0);

    const put = () => call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    const del = () => call(t.app, 'DELETE', `/api/v1/me/following/albums/${album.id}`, { session: user });

    expect((await put()).status).toBe(204);
    expect((await put()).status).toBe(204);
    expect(await followersOfAlbum(album.id)).toBe(1);
    const other = await register(t.app);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: other });
    expect(await followersOfAlbum(album.id)).toBe(2);

    const list = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(1);
    expect(list.body.items[0]).toMatchObject({ id: album.id, title: album.title, followerCount: 2 });

    expect((await del()).status).toBe(204);
    expect((await del()).status).toBe(204);
    expect(await followersOfAlbum(album.id)).toBe(1);
    const after = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(after.body).toMatchObject({ items: [], total: 0 });
  });

  it('lists newest follow first, in offset pages, and only the caller’s follows', async () => {
    const user = await register(t.app);
    const stranger = await register(t.app);
    const albums = [];
    for (let i = 0; i < 5; i++) {
      const album = await makeAlbum(t.app, admin);
      albums.push(album);
      await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    }
    const first = await call(t.app, 'GET', '/api/v1/me/following/albums?limit=2', { session: user });
    expect(first.body.total).toBe(5);
    expect(first.body.items.map((a: { id: string }) => a.id)).toEqual([albums[4].id, albums[3].id]);
    expect(first.body.next).toBe('/api/v1/me/following/albums?limit=2&offset=2');
    const last = await call(t.app, 'GET', '/api/v1/me/following/albums?limit=2&offset=4', { session: user });
    expect(last.body.items.map((a: { id: string }) => a.id)).toEqual([albums[0].id]);
    expect(last.body.next).toBeNull();

    const theirs = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: stranger });
    expect(theirs.body).toMatchObject({ items: [], total: 0 });
  });

  it('answers 404 for albums the caller may not see, 400 for malformed ids, 401 without a token', async () => {
    const user = await register(t.app);
    const hidden = await makeAlbum(t.app, admin, { isPublic: false });
    const hiddenPut = await call(t.app, 'PUT', `/api/v1/me/following/albums/${hidden.id}`, { session: user });
    expect(hiddenPut.status).toBe(404);
    expect(hiddenPut.body.code).toBe('ALBUM_NOT_FOUND');
    const hiddenDelete = await call(t.app, 'DELETE', `/api/v1/me/following/albums/${hidden.id}`, {
      session: user,
    });
    expect(hiddenDelete.status).toBe(404);
    const unknown = await call(
      t.app,
      'PUT',
      '/api/v1/me/following/albums/0190a6e0-0000-7000-8000-000000000000',
      {
        session: user,
      },
    );
    expect(unknown.status).toBe(404);
    expect((await call(t.app, 'PUT', '/api/v1/me/following/albums/nope', { session: user })).status).toBe(
      400,
    );
    const anonymous = await call(t.app, 'PUT', `/api/v1/me/following/albums/${hidden.id}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(await followersOfAlbum(hidden.id)).toBe(0);
  });

  it('hides a followed album that becomes hidden, and still lets the follower unfollow it', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    const hide = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { isPublic: false },
    });
    expect(hide.status).toBe(200);
    const list = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(list.body).toMatchObject({ items: [], total: 0 });

    const unfollow = await call(t.app, 'DELETE', `/api/v1/me/following/albums/${album.id}`, {
      session: user,
    });
    expect(unfollow.status).toBe(204);
    expect(await followersOfAlbum(album.id)).toBe(0);
  });

  it('lets an artist account follow its own hidden album', async () => {
    const artist = await makeArtist(t.app, admin);
    const account = await makeArtistAccount(t.app, admin, artist.id);
    const hidden = await makeAlbum(t.app, admin, { artistId: artist.id, isPublic: false });
    const res = await call(t.app, 'PUT', `/api/v1/me/following/albums/${hidden.id}`, { session: account });
    expect(res.status).toBe(204);
    expect(await followersOfAlbum(hidden.id)).toBe(1);
  });

  it('drops the follows of a deleted album', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin })).status).toBe(204);
    const list = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: user });
    expect(list.body).toMatchObject({ items: [], total: 0 });
    const again = await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    expect(again.status).toBe(404);
  });

  it('keeps concurrent follows of one album exact', async () => {
    const album = await makeAlbum(t.app, admin);
    const users = await Promise.all(Array.from({ length: 8 }, () => register(t.app)));
    const results = await Promise.all(
      users.flatMap((user) => [
        call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user }),
        call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user }),
      ]),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 204));
    expect(await followersOfAlbum(album.id)).toBe(8);
  });

  it('rejects unknown query parameters and out-of-range pages', async () => {
    const user = await register(t.app);
    expect((await call(t.app, 'GET', '/api/v1/me/following/albums?sort=x', { session: user })).status).toBe(
      400,
    );
    expect(
      (await call(t.app, 'GET', '/api/v1/me/following/albums?limit=101', { session: user })).status,
    ).toBe(400);
  });
});

describe('following artists', () => {
  it('follows, counts, lists and unfollows artists idempotently', async () => {
    const user = await register(t.app);
    const older = await makeArtist(t.app, admin);
    const newer = await makeArtist(t.app, admin);
    expect(await followersOfArtist(older.id)).toBe(0);
    for (const artist of [older, newer, older]) {
      const res = await call(t.app, 'PUT', `/api/v1/me/following/artists/${artist.id}`, { session: user });
      expect(res.status).toBe(204);
    }
    expect(await followersOfArtist(older.id)).toBe(1);

    const list = await call(t.app, 'GET', '/api/v1/me/following/artists', { session: user });
    expect(list.body.total).toBe(2);
    expect(list.body.items.map((a: { id: string }) => a.id)).toEqual([newer.id, older.id]);
    expect(list.body.items[1]).toMatchObject({ name: older.name, followerCount: 1, albumCount: 0 });
    expect(list.body.items[1]).not.toHaveProperty('isVisible');

    for (let i = 0; i < 2; i++) {
      const res = await call(t.app, 'DELETE', `/api/v1/me/following/artists/${older.id}`, { session: user });
      expect(res.status).toBe(204);
    }
    expect(await followersOfArtist(older.id)).toBe(0);
    const after = await call(t.app, 'GET', '/api/v1/me/following/artists', { session: user });
    expect(after.body.items.map((a: { id: string }) => a.id)).toEqual([newer.id]);
  });

  it('answers 404 for a hidden or unknown artist', async () => {
    const user = await register(t.app);
    const artist = await makeArtist(t.app, admin);
    const hide = await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    expect(hide.status).toBe(200);
    const res = await call(t.app, 'PUT', `/api/v1/me/following/artists/${artist.id}`, { session: user });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('ARTIST_NOT_FOUND');
    const unknown = await call(
      t.app,
      'DELETE',
      '/api/v1/me/following/artists/0190a6e0-0000-7000-8000-000000000000',
      {
        session: user,
      },
    );
    expect(unknown.status).toBe(404);
    // Admins see hidden artists, so they may follow them.
    const byAdmin = await call(t.app, 'PUT', `/api/v1/me/following/artists/${artist.id}`, { session: admin });
    expect(byAdmin.status).toBe(204);
  });
});

describe('following seen from other modules', () => {
  it('album detail says followedByMe to signed-in callers only', async () => {
    const user = await register(t.app);
    const other = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    const detail = (session?: Session) => call(t.app, 'GET', `/api/v1/albums/${album.id}`, { session });
    expect((await detail(user)).body.followedByMe).toBe(true);
    expect((await detail(other)).body.followedByMe).toBe(false);
    expect((await detail()).body).not.toHaveProperty('followedByMe');
    await call(t.app, 'DELETE', `/api/v1/me/following/albums/${album.id}`, { session: user });
    expect((await detail(user)).body.followedByMe).toBe(false);
  });

  it('deleting an account lowers the follower counts it held', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    const artist = await makeArtist(t.app, admin);
    await call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: user });
    await call(t.app, 'PUT', `/api/v1/me/following/artists/${artist.id}`, { session: user });
    expect(await followersOfAlbum(album.id)).toBe(1);
    expect(await followersOfArtist(artist.id)).toBe(1);
    expect(
      (await call(t.app, 'DELETE', `/api/v1/admin/users/${user.user.id}`, { session: admin })).status,
    ).toBe(204);
    expect(await followersOfAlbum(album.id)).toBe(0);
    expect(await followersOfArtist(artist.id)).toBe(0);
  });
});
