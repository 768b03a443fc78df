import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { admin, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeSong } from '../../../test/factories.js';
import { buildTestApp, call, createAdmin, login, register, type Session } from '../../../test/helpers.js';
import { openStream } from '../../../test/sse.js';
import { notificationReads } from './notifications.tables.js';

useAppWithAdminAndUser();

interface Notification {
  id: string;
  type: string;
  createdAt: string;
  readAt: string | null;
  album: { id: string; title: string };
  song: { id: string; title: string } | null;
  artist: { id: string; name: string };
}

const feed = async (session: Session, query = '') => {
  const res = await call(t.app, 'GET', `/api/v1/me/notifications${query}`, { session });
  expect(res.status).toBe(200);
  return res.body as { items: Notification[]; nextCursor: string | null; unreadCount: number };
};
const songIds = (items: Notification[]) => items.map((n) => n.song?.id);
const follow = (session: Session, kind: 'albums' | 'artists', id: string) =>
  call(t.app, 'PUT', `/api/v1/me/following/${kind}/${id}`, { session });
const unfollow = (session: Session, kind: 'albums' | 'artists', id: string) =>
  call(t.app, 'DELETE', `/api/v1/me/following/${kind}/${id}`, { session });
const markRead = (session: Session, body?: unknown) =>
  call(t.app, 'POST', '/api/v1/me/notifications/read', { session, ...(body === undefined ? {} : { body }) });

describe('notification feed', () => {
  it('tells a follower of songs added after the follow, and of nothing before', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await makeSong(t.app, admin, album.id);
    expect((await follow(user, 'albums', album.id)).status).toBe(204);
    const song = await makeSong(t.app, admin, album.id);

    const body = await feed(user);
    expect(body.unreadCount).toBe(1);
    expect(body.nextCursor).toBeNull();
    expect(body.items).toEqual([
      {
        id: expect.any(String),
        type: 'album.song_added',
        createdAt: song.createdAt,
        readAt: null,
        album: { id: album.id, title: album.title },
        song: { id: song.id, title: song.title },
        artist: { id: album.artist.id, name: album.artist.name },
        event: null,
      },
    ]);
    // Ids are stable across reads.
    expect((await feed(user)).items[0]!.id).toBe(body.items[0]!.id);
  });

  it('tells a follower of an artist of each new album, newest first with song notifications', async () => {
    const user = await register(t.app);
    const artist = await makeArtist(t.app, admin);
    await makeAlbum(t.app, admin, { artistId: artist.id });
    const followedAlbum = await makeAlbum(t.app, admin);
    await follow(user, 'artists', artist.id);
    await follow(user, 'albums', followedAlbum.id);
    const newAlbum = await makeAlbum(t.app, admin, { artistId: artist.id });
    await makeAlbum(t.app, admin, { artistId: artist.id, isPublic: false });
    const song = await makeSong(t.app, admin, followedAlbum.id);

    const { items, unreadCount } = await feed(user);
    expect(unreadCount).toBe(2);
    expect(items.map((n) => n.type)).toEqual(['album.song_added', 'artist.album_added']);
    expect(items[0]!.song!.id).toBe(song.id);
    expect(items[1]).toMatchObject({
      type: 'artist.album_added',
      createdAt: newAlbum.createdAt,
      album: { id: newAlbum.id, title: newAlbum.title },
      song: null,
      artist: { id: artist.id, name: artist.name },
    });
  });

  it('stops new notifications on unfollow, keeps the ones already had, resumes on a new follow', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const kept = await makeSong(t.app, admin, album.id);
    await unfollow(user, 'albums', album.id);
    await makeSong(t.app, admin, album.id);
    expect(songIds((await feed(user)).items)).toEqual([kept.id]);

    await follow(user, 'albums', album.id);
    const later = await makeSong(t.app, admin, album.id);
    expect(songIds((await feed(user)).items)).toEqual([later.id, kept.id]);

    const artist = await makeArtist(t.app, admin);
    await follow(user, 'artists', artist.id);
    await unfollow(user, 'artists', artist.id);
    await makeAlbum(t.app, admin, { artistId: artist.id });
    expect((await feed(user)).items.filter((n) => n.type === 'artist.album_added')).toEqual([]);
  });

  it('drops the notifications of deleted songs and albums', async () => {
    const user = await register(t.app);
    const artist = await makeArtist(t.app, admin);
    await follow(user, 'artists', artist.id);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    await follow(user, 'albums', album.id);
    const first = await makeSong(t.app, admin, album.id);
    const second = await makeSong(t.app, admin, album.id);
    const other = await makeAlbum(t.app, admin);
    await follow(user, 'albums', other.id);
    const survivor = await makeSong(t.app, admin, other.id);
    expect((await feed(user)).unreadCount).toBe(4);

    expect((await call(t.app, 'DELETE', `/api/v1/songs/${first.id}`, { session: admin })).status).toBe(204);
    expect(songIds((await feed(user)).items)).toEqual([survivor.id, second.id, undefined]);

    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}`, { session: admin })).status).toBe(204);
    const after = await feed(user);
    expect(songIds(after.items)).toEqual([survivor.id]);
    expect(after.unreadCount).toBe(1);
  });

  it('never shows hidden content, and shows it again once it is public', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const song = await makeSong(t.app, admin, album.id);
    const hide = await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { isPublic: false },
    });
    expect(hide.status).toBe(200);
    await makeSong(t.app, admin, album.id);
    expect(await feed(user)).toMatchObject({ items: [], unreadCount: 0 });

    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: true } });
    expect(songIds((await feed(user)).items)).toContain(song.id);

    const artist = await makeArtist(t.app, admin);
    await follow(user, 'artists', artist.id);
    await makeAlbum(t.app, admin, { artistId: artist.id });
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { isVisible: false },
    });
    expect((await feed(user)).items.filter((n) => n.type === 'artist.album_added')).toEqual([]);
  });

  it('never shows one user another user’s feed', async () => {
    const alice = await register(t.app);
    const bob = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(alice, 'albums', album.id);
    await makeSong(t.app, admin, album.id);
    expect((await feed(alice)).items).toHaveLength(1);
    expect(await feed(bob)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
  });
});

describe('cached feed pages', () => {
  // Every step reads the feed first, so the next read would be served from the cache if the
  // change did not invalidate it.
  it('shows every change made after a read: songs, titles, names, visibility, follows, marks', async () => {
    const user = await register(t.app);
    const artist = await makeArtist(t.app, admin);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    await follow(user, 'albums', album.id);
    expect(await feed(user)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });

    const song = await makeSong(t.app, admin, album.id);
    expect(songIds((await feed(user)).items)).toEqual([song.id]);

    await call(t.app, 'PATCH', `/api/v1/songs/${song.id}`, {
      session: admin,
      body: { title: 'Renamed song' },
    });
    expect((await feed(user)).items[0]!.song!.title).toBe('Renamed song');
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, {
      session: admin,
      body: { title: 'Renamed album' },
    });
    expect((await feed(user)).items[0]!.album.title).toBe('Renamed album');
    await call(t.app, 'PATCH', `/api/v1/artists/${artist.id}`, {
      session: admin,
      body: { name: 'Renamed artist' },
    });
    expect((await feed(user)).items[0]!.artist.name).toBe('Renamed artist');

    // A song of an album the user follows only since the last read.
    const other = await makeAlbum(t.app, admin);
    const before = await makeSong(t.app, admin, other.id);
    expect((await feed(user)).unreadCount).toBe(1);
    await follow(user, 'albums', other.id);
    const fresh = await makeSong(t.app, admin, other.id);
    const both = await feed(user);
    expect(songIds(both.items)).toEqual([fresh.id, song.id]);
    expect(songIds(both.items)).not.toContain(before.id);

    // Marks one by one and all at once (the watermark).
    await markRead(user, { ids: [both.items[0]!.id] });
    const marked = await feed(user);
    expect(marked.unreadCount).toBe(1);
    expect(marked.items.map((n) => n.readAt !== null)).toEqual([true, false]);
    expect((await feed(user, '?unreadOnly=true')).items.map((n) => n.song?.id)).toEqual([song.id]);
    await markRead(user);
    expect((await feed(user)).unreadCount).toBe(0);
    expect((await feed(user, '?unreadOnly=true')).items).toEqual([]);

    // Hidden, then deleted; and an unfollow keeps what arrived, but nothing new.
    const hide = await call(t.app, 'PATCH', `/api/v1/albums/${other.id}`, {
      session: admin,
      body: { isPublic: false },
    });
    expect(hide.status).toBe(200);
    expect(songIds((await feed(user)).items)).toEqual([song.id]);
    await call(t.app, 'DELETE', `/api/v1/songs/${song.id}`, { session: admin });
    expect((await feed(user)).items).toEqual([]);
    const kept = await makeSong(t.app, admin, album.id);
    expect((await feed(user)).unreadCount).toBe(1);
    await unfollow(user, 'albums', album.id);
    expect(songIds((await feed(user)).items)).toEqual([kept.id]);
    await makeSong(t.app, admin, album.id);
    expect(songIds((await feed(user)).items)).toEqual([kept.id]);

    // A new album of a followed artist.
    await follow(user, 'artists', artist.id);
    expect((await feed(user)).unreadCount).toBe(1);
    const newAlbum = await makeAlbum(t.app, admin, { artistId: artist.id });
    const last = await feed(user);
    expect(last.unreadCount).toBe(2);
    expect(last.items[0]).toMatchObject({ type: 'artist.album_added', album: { id: newAlbum.id } });
  });

  it('sees a new song on any of many followed albums (a page keyed on a digest of their versions)', async () => {
    const user = await register(t.app);
    const albums = [];
    for (let i = 0; i < 40; i++) {
      const album = await makeAlbum(t.app, admin);
      await follow(user, 'albums', album.id);
      albums.push(album);
    }
    expect((await feed(user)).unreadCount).toBe(0);
    const last = await makeSong(t.app, admin, albums[39]!.id);
    expect(songIds((await feed(user)).items)).toEqual([last.id]);
    const first = await makeSong(t.app, admin, albums[0]!.id);
    expect(songIds((await feed(user)).items)).toEqual([first.id, last.id]);
    await call(t.app, 'DELETE', `/api/v1/albums/${albums[20]!.id}`, { session: admin });
    expect((await feed(user)).unreadCount).toBe(2);
    await call(t.app, 'DELETE', `/api/v1/songs/${last.id}`, { session: admin });
    expect(songIds((await feed(user)).items)).toEqual([first.id]);
  });
});

describe('read marks', () => {
  it('marks some read, ignores other users’ ids, and marks all read without ids', async () => {
    const alice = await register(t.app);
    const bob = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(alice, 'albums', album.id);
    await follow(bob, 'albums', album.id);
    for (let i = 0; i < 3; i++) await makeSong(t.app, admin, album.id);
    const [n1, n2, n3] = (await feed(alice)).items;
    const bobs = (await feed(bob)).items;
    // The same song is a different notification in each feed.
    expect(bobs.map((n) => n.id)).not.toContain(n1!.id);

    expect((await markRead(alice, { ids: [n2!.id] })).status).toBe(204);
    const some = await feed(alice);
    expect(some.unreadCount).toBe(2);
    expect(some.items.map((n) => n.readAt !== null)).toEqual([false, true, false]);
    const unread = await feed(alice, '?unreadOnly=true');
    expect(unread.items.map((n) => n.id)).toEqual([n1!.id, n3!.id]);

    // Bob sends Alice's ids: nothing changes for either of them.
    expect((await markRead(bob, { ids: [n1!.id, n3!.id] })).status).toBe(204);
    expect((await feed(alice)).unreadCount).toBe(2);
    expect((await feed(bob)).unreadCount).toBe(3);

    const readAtOfN2 = some.items[1]!.readAt;
    expect((await markRead(alice)).status).toBe(204);
    const all = await feed(alice);
    expect(all.unreadCount).toBe(0);
    expect(all.items.every((n) => n.readAt !== null)).toBe(true);
    expect(all.items[1]!.readAt).toBe(readAtOfN2);
    expect((await feed(alice, '?unreadOnly=true')).items).toEqual([]);
    expect((await feed(bob)).unreadCount).toBe(3);

    const fresh = await makeSong(t.app, admin, album.id);
    const later = await feed(alice);
    expect(later.unreadCount).toBe(1);
    expect(later.items[0]).toMatchObject({ song: { id: fresh.id }, readAt: null });

    expect((await markRead(alice, {})).status).toBe(204);
    expect((await feed(alice)).unreadCount).toBe(0);
  });

  it('validates the body', async () => {
    const user = await register(t.app);
    expect((await markRead(user, { ids: ['nope'] })).status).toBe(400);
    expect((await markRead(user, { ids: [], extra: 1 })).status).toBe(400);
    expect((await call(t.app, 'POST', '/api/v1/me/notifications/read')).status).toBe(401);
  });

  it('drops the read marks of deleted songs', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const song = await makeSong(t.app, admin, album.id);
    await markRead(user, { ids: [(await feed(user)).items[0]!.id] });
    const marks = () =>
      t.database.db.select().from(notificationReads).where(eq(notificationReads.userId, user.user.id));
    expect(await marks()).toHaveLength(1);

    await call(t.app, 'DELETE', `/api/v1/songs/${song.id}`, { session: admin });
    await t.app.services.events.relay.drain();
    await vi.waitFor(async () => expect(await marks()).toHaveLength(0), { timeout: 2000 });
  });
});

describe('cursor pages', () => {
  it('pages through 45 notifications 10 at a time without duplicates or gaps', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const created: string[] = [];
    for (let i = 0; i < 45; i++) created.push((await makeSong(t.app, admin, album.id)).id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await feed(user, `?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.unreadCount).toBe(45);
      expect(page.items.length).toBe(pages < 4 ? 10 : 5);
      seen.push(...page.items.map((n) => n.song!.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);

    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(45);
    expect(seen).toEqual([...created].reverse());

    await markRead(user, {
      ids: (await feed(user, '?limit=20')).items.filter((_, i) => i % 2 === 0).map((n) => n.id),
    });
    const unread: string[] = [];
    cursor = null;
    do {
      const page = await feed(
        user,
        `?unreadOnly=true&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      unread.push(...page.items.map((n) => n.song!.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(unread).toEqual([...created].reverse().filter((_, i) => i >= 20 || i % 2 === 1));
  });

  it('rejects malformed cursors and bad parameters', async () => {
    const user = await register(t.app);
    const bad = await call(t.app, 'GET', '/api/v1/me/notifications?cursor=not-a-cursor', { session: user });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_CURSOR');
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    for (const query of ['?limit=0', '?limit=101', '?unreadOnly=maybe', '?since=1']) {
      const res = await call(t.app, 'GET', `/api/v1/me/notifications${query}`, { session: user });
      expect(res.status, query).toBe(400);
    }
    expect((await call(t.app, 'GET', '/api/v1/me/notifications')).status).toBe(401);
  });
});

describe('live stream', () => {
  let baseUrl: string;

  beforeAll(async () => {
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });

  it('pushes a new song within a second, and resumes after Last-Event-ID without gaps', async () => {
    const user = await register(t.app);
    const stranger = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const stream = await openStream(baseUrl, user, { 'x-request-id': 'sse-test-1' });
    const strangers = await openStream(baseUrl, stranger);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.response.headers.get('cache-control')).toMatch(/no-cache/);
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.response.headers.get('x-request-id')).toBe('sse-test-1');

    const first = await makeSong(t.app, admin, album.id);
    // Pushed, not polled: it arrives without another request (latency is the bench's business).
    const event = await stream.nextNotification(5000);
    const [item] = (await feed(user)).items;
    expect(item!.song!.id).toBe(first.id);
    expect(event.id).toBe(item!.id);
    expect(JSON.parse(event.data!)).toEqual(item);
    await expect(strangers.nextNotification(300)).rejects.toThrow(/no matching event/);
    strangers.close();

    stream.close();
    const missed = [await makeSong(t.app, admin, album.id), await makeSong(t.app, admin, album.id)];
    const resumed = await openStream(baseUrl, user, { 'last-event-id': event.id! });
    const replayed = [await resumed.nextNotification(), await resumed.nextNotification()];
    expect(replayed.map((e) => JSON.parse(e.data!).song.id)).toEqual(missed.map((s) => s.id));

    const live = await makeSong(t.app, admin, album.id);
    expect(JSON.parse((await resumed.nextNotification()).data!).song.id).toBe(live.id);
    expect(resumed.events.filter((e) => e.event === 'notification')).toEqual([]);
    resumed.close();
  });

  it('pushes new albums of followed artists', async () => {
    const user = await register(t.app);
    const artist = await makeArtist(t.app, admin);
    await follow(user, 'artists', artist.id);
    const stream = await openStream(baseUrl, user);
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    const data = JSON.parse((await stream.nextNotification()).data!);
    expect(data).toMatchObject({ type: 'artist.album_added', album: { id: album.id }, song: null });
    stream.close();
  });

  it('sends heartbeat comments', async () => {
    const user = await register(t.app);
    const settings = t.app.services.notifications.settings;
    const usual = settings.heartbeatMs;
    settings.heartbeatMs = 50;
    try {
      const stream = await openStream(baseUrl, user);
      expect((await stream.next((e) => e.comment === 'heartbeat', 1000)).comment).toBe('heartbeat');
      stream.close();
    } finally {
      settings.heartbeatMs = usual;
    }
  });

  it('allows five open streams per user and answers 429 beyond', async () => {
    const user = await register(t.app);
    const streams = await Promise.all(Array.from({ length: 5 }, () => openStream(baseUrl, user)));
    expect(streams.map((s) => s.response.status)).toEqual([200, 200, 200, 200, 200]);
    const sixth = await openStream(baseUrl, user);
    expect(sixth.response.status).toBe(429);
    expect(sixth.response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(((await sixth.response.json()) as { code: string }).code).toBe('TOO_MANY_STREAMS');

    streams[0]!.close();
    await vi.waitFor(
      async () => {
        const again = await openStream(baseUrl, user);
        expect(again.response.status).toBe(200);
        streams.push(again);
      },
      { timeout: 2000, interval: 50 },
    );
    for (const stream of streams) stream.close();
  });

  it('delivers nothing to a stream whose session was logged out, and ends it', async () => {
    const user = await register(t.app);
    const album = await makeAlbum(t.app, admin);
    await follow(user, 'albums', album.id);
    const stream = await openStream(baseUrl, user);
    expect(stream.response.status).toBe(200);
    const out = await call(t.app, 'POST', '/api/v1/auth/logout', {
      body: { refreshToken: user.refreshToken },
    });
    expect(out.status).toBe(204);
    await makeSong(t.app, admin, album.id);
    await vi.waitFor(() => expect(stream.ended).toBe(true), { timeout: 3000 });
    expect(stream.events.filter((e) => e.event === 'notification')).toEqual([]);
  });

  it('ends streams once their session ends: logout, password change, block, deletion', async () => {
    const settings = t.app.services.notifications.settings;
    const usual = settings.sessionCheckMs;
    settings.sessionCheckMs = 50;
    try {
      const endings: Record<string, (session: Session) => Promise<number>> = {
        logout: async (session) =>
          (await call(t.app, 'POST', '/api/v1/auth/logout', { body: { refreshToken: session.refreshToken } }))
            .status,
        'password change': async (session) => {
          const other = await login(t.app, session.user.email!, 'correct-horse-battery');
          const body = { currentPassword: 'correct-horse-battery', newPassword: 'another-horse-battery' };
          return (await call(t.app, 'PATCH', '/api/v1/me', { session: other, body })).status;
        },
        block: async (session) =>
          (
            await call(t.app, 'PATCH', `/api/v1/admin/users/${session.user.id}`, {
              session: admin,
              body: { blocked: true },
            })
          ).status,
        deletion: async (session) =>
          (await call(t.app, 'DELETE', `/api/v1/admin/users/${session.user.id}`, { session: admin })).status,
      };
      for (const [name, end] of Object.entries(endings)) {
        const user = await register(t.app);
        const bystander = await register(t.app);
        const stream = await openStream(baseUrl, user);
        const kept = await openStream(baseUrl, bystander);
        expect(stream.response.status, name).toBe(200);
        expect(await end(user), name).toBeLessThan(300);
        await vi.waitFor(() => expect(stream.ended, name).toBe(true), { timeout: 3000 });
        expect(kept.ended, name).toBe(false);
        kept.close();
      }
    } finally {
      settings.sessionCheckMs = usual;
    }
  });

  it('ends a stream when the access token that opened it expires on the app clock', async () => {
    let now = Date.now();
    const own = await buildTestApp({ ACCESS_TOKEN_TTL: '15m' }, { clock: () => new Date(now) });
    try {
      own.app.services.notifications.settings.sessionCheckMs = 50;
      const url = await own.app.listen({ port: 0, host: '127.0.0.1' });
      const boss = await createAdmin(own.app);
      const user = await register(own.app);
      const album = await makeAlbum(own.app, boss);
      const followed = await call(own.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, {
        session: user,
      });
      expect(followed.status).toBe(204);
      const stream = await openStream(url, user);
      expect(stream.response.status).toBe(200);
      // Two seconds before the token's expiry (its `exp` is in whole seconds) it still delivers.
      now += 15 * 60_000 - 2000;
      const song = await makeSong(own.app, boss, album.id);
      const delivered = await stream.nextNotification(5000);
      expect(JSON.parse(delivered.data!).song.id).toBe(song.id);
      expect(stream.ended).toBe(false);
      // Past it, the next session check ends the stream: no waiting for 15 minutes.
      now += 3000;
      await vi.waitFor(() => expect(stream.ended).toBe(true), { timeout: 5000, interval: 20 });
    } finally {
      await own.close();
    }
  });

  it('caps the streams of the whole process, next to the per-user cap', async () => {
    const own = await buildTestApp();
    try {
      const url = await own.app.listen({ port: 0, host: '127.0.0.1' });
      own.app.services.notifications.settings.limits.maxPerProcess = 2;
      const [first, second, third] = [
        await register(own.app),
        await register(own.app),
        await register(own.app),
      ];
      const open = [await openStream(url, first), await openStream(url, second)];
      expect(open.map((s) => s.response.status)).toEqual([200, 200]);
      const refused = await openStream(url, third);
      expect(refused.response.status).toBe(503);
      expect(refused.response.headers.get('retry-after')).toBeTruthy();
      expect(((await refused.response.json()) as { code: string }).code).toBe('STREAMS_EXHAUSTED');
      open[0]!.close();
      await vi.waitFor(
        async () => {
          const again = await openStream(url, third);
          expect(again.response.status).toBe(200);
          open.push(again);
        },
        { timeout: 2000, interval: 50 },
      );
      for (const stream of open) stream.close();
    } finally {
      await own.close();
    }
  });

  it('rejects unauthenticated callers and malformed Last-Event-ID', async () => {
    const anonymous = await openStream(baseUrl, null);
    expect(anonymous.response.status).toBe(401);
    const user = await register(t.app);
    const bad = await openStream(baseUrl, user, { 'last-event-id': 'garbage' });
    expect(bad.response.status).toBe(400);
    expect(((await bad.response.json()) as { code: string }).code).toBe('INVALID_LAST_EVENT_ID');
  });

  it('ends open streams when the app closes, so closing does not hang', async () => {
    const own = await buildTestApp();
    const url = await own.app.listen({ port: 0, host: '127.0.0.1' });
    const user = await register(own.app);
    const stream = await openStream(url, user);
    expect(stream.response.status).toBe(200);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await vi.waitFor(() => expect(stream.ended).toBe(true), { timeout: 2000 });
  });
});
