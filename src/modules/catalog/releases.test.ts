import type { FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong, unique } from '../../../test/factories.js';
import {
  buildTestApp,
  call,
  createAdmin,
  register,
  type Session,
  type TestApp,
} from '../../../test/helpers.js';
import { enqueueJob, JobQueue } from '../../platform/jobs.js';
import { ALBUM_RELEASE_JOB, albumReleaseJob } from './catalog.releases.js';

/**
 * Scheduled releases (`publishAt`) on a real database, with a clock the test moves: the app's
 * job queue and the service decide "due" and "past" by it, so nothing waits for real time.
 */
const HOUR = 3_600_000;
let now = Date.now();
const clock = () => new Date(now);
/** Many requests per test on a shared machine: more than the default 20 s. */
const SLOW = { timeout: 120_000 };
const silent = { warn() {}, error() {}, info() {} } as unknown as FastifyBaseLogger;

let t: TestApp;
let admin: Session;
let fan: Session;
const queues: JobQueue[] = [];

beforeAll(async () => {
  // Access tokens expire on the same clock, and the tests move it by hours: a week's tokens.
  t = await buildTestApp({ MEDIA_DIR: '/tmp/backbeat-releases-test', ACCESS_TOKEN_TTL: '7d' }, { clock });
  admin = await createAdmin(t.app);
  fan = await register(t.app);
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.stop()));
  await t?.close();
});

const api = (path: string) => `/api/v1${path}`;
const at = (ms: number) => new Date(now + ms).toISOString();

/** Moves the clock and lets every job queue run what became due. */
async function advance(ms: number) {
  now += ms;
  for (const q of [t.app.services.jobs, ...queues]) q.wake();
  for (const q of [t.app.services.jobs, ...queues]) await q.idle([ALBUM_RELEASE_JOB]);
}

/** An artist with a signed-in artist account, followed by `fan`. */
async function followedArtist() {
  const artist = await makeArtist(t.app, admin);
  const owner = await makeArtistAccount(t.app, admin, artist.id);
  expect((await call(t.app, 'PUT', api(`/me/following/artists/${artist.id}`), { session: fan })).status).toBe(
    204,
  );
  return { artist, owner };
}

/** `catalog.album_added` events recorded for an album (what notifies followers, once). */
async function announcements(albumId: string): Promise<number> {
  const rows = await t.database.db.execute(
    `select count(*)::int as n from outbox_events
      where type = 'catalog.album_added' and payload->>'albumId' = '${albumId}'`,
  );
  return Number((rows as unknown as { rows: { n: number }[] }).rows[0]!.n);
}

/** The fan's `artist.album_added` notifications of an album. */
async function notificationsOf(albumId: string) {
  const res = await call(t.app, 'GET', api('/me/notifications?limit=100'), { session: fan });
  expect(res.status).toBe(200);
  return (res.body.items as { type: string; album: { id: string }; createdAt: string }[]).filter(
    (n) => n.type === 'artist.album_added' && n.album.id === albumId,
  );
}

const albumStatus = async (id: string, session?: Session) =>
  (await call(t.app, 'GET', api(`/albums/${id}`), { session })).status;

describe('scheduled releases', () => {
  it(
    'hide an album everywhere until publishAt, then show it everywhere and notify followers once',
    SLOW,
    async () => {
      const { artist, owner } = await followedArtist();
      const other = await makeArtistAccount(t.app, admin, (await makeArtist(t.app, admin)).id);
      const title = unique('Scheduled');
      const publishAt = at(HOUR);
      const created = await call(t.app, 'POST', api('/albums'), {
        session: owner,
        body: { title, genre: 'Rock', releaseYear: 2026, artistId: artist.id, publishAt },
      });
      expect(created.status).toBe(201);
      expect(created.body.publishAt).toBe(publishAt);
      const album = created.body;
      const song = await makeSong(t.app, owner, album.id, { title: `${title} song` });
      // A follow after creation still hears of the release: it is announced when released.
      const late = await register(t.app);
      await call(t.app, 'PUT', api(`/me/following/artists/${artist.id}`), { session: late });

      // Cached reads taken before the release must not outlive it.
      const lists = [
        api(`/albums?artistId=${artist.id}`),
        api(`/artists/${artist.id}/albums`),
        api(`/search?q=${title}&type=album,song`),
        api(`/songs?albumId=${album.id}`),
      ];
      const before = await Promise.all(lists.map((url) => call(t.app, 'GET', url)));
      expect(before.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(before[0]!.body.items).toEqual([]);
      expect(before[1]!.body.items).toEqual([]);
      expect(before[2]!.body.albums.items).toEqual([]);
      expect(before[2]!.body.songs.items).toEqual([]);
      expect(before[3]!.body.items).toEqual([]);
      expect((await call(t.app, 'GET', api(`/artists/${artist.id}`))).body.albumCount).toBe(0);

      // Hidden from anonymous callers, users and other artists; not from the owner and admins.
      expect(await albumStatus(album.id)).toBe(404);
      expect(await albumStatus(album.id, fan)).toBe(404);
      expect(await albumStatus(album.id, other)).toBe(404);
      expect((await call(t.app, 'GET', api(`/songs/${song.id}`), { session: fan })).status).toBe(404);
      expect(await albumStatus(album.id, owner)).toBe(200);
      expect(await albumStatus(album.id, admin)).toBe(200);
      const mine = await call(t.app, 'GET', api(`/albums?artistId=${artist.id}`), { session: owner });
      expect(mine.body.items.map((a: { id: string }) => a.id)).toEqual([album.id]);
      // Nobody is told, and it cannot be put in a playlist.
      expect(await notificationsOf(album.id)).toEqual([]);
      expect(await announcements(album.id)).toBe(0);
      const playlist = await call(t.app, 'POST', api('/playlists'), {
        session: fan,
        body: { name: unique('List'), isPublic: true },
      });
      const add = () =>
        call(t.app, 'POST', api(`/playlists/${playlist.body.id}/tracks`), {
          session: fan,
          body: { songIds: [song.id] },
        });
      expect((await add()).status).toBe(400);
      // Subsonic apps see nothing of it either.
      const password = (
        await call(t.app, 'POST', api('/me/app-passwords'), { session: fan, body: { name: 'Player' } })
      ).body.password as string;
      const subsonicAlbum = async () => {
        const query = new URLSearchParams({
          u: fan.user.email!,
          p: password,
          v: '1.16.1',
          c: 't',
          f: 'json',
          id: album.id,
        });
        return (await t.app.inject({ url: `/rest/getAlbum?${query}` })).json()['subsonic-response'];
      };
      expect((await subsonicAlbum()).error?.code).toBe(70);
      // Someone else's scheduled album is not there for them to change.
      const foreign = await call(t.app, 'PATCH', api(`/albums/${album.id}`), {
        session: other,
        body: { publishAt: null },
      });
      expect(foreign.status).toBe(404);

      await advance(HOUR - 1000);
      expect(await albumStatus(album.id)).toBe(404);
      await advance(1000);

      expect(await albumStatus(album.id)).toBe(200);
      expect((await call(t.app, 'GET', api(`/songs/${song.id}`), { session: fan })).status).toBe(200);
      const after = await Promise.all(lists.map((url) => call(t.app, 'GET', url)));
      expect(after[0]!.body.items.map((a: { id: string }) => a.id)).toEqual([album.id]);
      expect(after[1]!.body.items.map((a: { id: string }) => a.id)).toEqual([album.id]);
      expect(after[2]!.body.albums.items.map((a: { id: string }) => a.id)).toEqual([album.id]);
      expect(after[2]!.body.songs.items.map((s: { id: string }) => s.id)).toEqual([song.id]);
      expect(after[3]!.body.items.map((s: { id: string }) => s.id)).toEqual([song.id]);
      expect((await call(t.app, 'GET', api(`/artists/${artist.id}`))).body.albumCount).toBe(1);
      expect(after[0]!.body.items[0].publishAt).toBe(publishAt);
      expect((await add()).status).toBe(200);
      expect((await subsonicAlbum()).album.id).toBe(album.id);
      expect(await announcements(album.id)).toBe(1);
      const told = await notificationsOf(album.id);
      expect(told).toHaveLength(1);
      const lateFeed = await call(t.app, 'GET', api('/me/notifications'), { session: late });
      expect(lateFeed.body.items.map((n: { album: { id: string } }) => n.album.id)).toEqual([album.id]);
    },
  );

  it(
    'announce exactly once with two job queues racing, duplicate jobs and a rerun after a restart',
    SLOW,
    async () => {
      const { artist, owner } = await followedArtist();
      const publishAt = at(HOUR);
      const album = await makeAlbum(t.app, owner, { artistId: artist.id, publishAt });
      // A second process, and duplicates of the job (as a retry after a lost lease would make).
      const second = new JobQueue(t.database.db, silent, { clock, pollMs: 10 });
      queues.push(second);
      second.register(
        ALBUM_RELEASE_JOB,
        albumReleaseJob({
          db: t.database.db,
          clock,
          log: silent,
          invalidateAlbum: () => t.app.services.cache.invalidate('catalog:albums'),
          invalidateArtist: async () => {},
          invalidateSearch: () => t.app.services.cache.invalidate('catalog:search'),
        }),
      );
      second.start();
      for (let i = 0; i < 4; i++) {
        await enqueueJob(
          t.database.db,
          ALBUM_RELEASE_JOB,
          { albumId: album.id, publishAt },
          { runAt: new Date(publishAt) },
        );
      }
      await advance(HOUR);
      expect(await albumStatus(album.id)).toBe(200);
      expect(await announcements(album.id)).toBe(1);
      expect(await notificationsOf(album.id)).toHaveLength(1);
      const jobsOf = async () =>
        (
          (await t.database.db.execute(
            `select status from jobs where type = '${ALBUM_RELEASE_JOB}' and payload->>'albumId' = '${album.id}'`,
          )) as unknown as { rows: { status: string }[] }
        ).rows.map((r) => r.status);
      expect(await jobsOf()).toEqual(['done', 'done', 'done', 'done', 'done']);

      // A process that died after the release committed but before it marked its job done.
      await t.database.db.execute(
        `update jobs set status = 'queued' where type = '${ALBUM_RELEASE_JOB}' and payload->>'albumId' = '${album.id}'`,
      );
      await advance(1);
      expect(await announcements(album.id)).toBe(1);
      expect(await notificationsOf(album.id)).toHaveLength(1);
      // Its invalidation is partial (lists only): keep it out of the other tests.
      await second.stop();
      queues.splice(queues.indexOf(second), 1);
    },
  );

  it('follow a moved publishAt, and release at once when it is cleared or in the past', SLOW, async () => {
    const { artist, owner } = await followedArtist();
    const moved = await makeAlbum(t.app, owner, { artistId: artist.id, publishAt: at(HOUR) });
    const later = at(3 * HOUR);
    const patch = (id: string, publishAt: string | null, session = owner) =>
      call(t.app, 'PATCH', api(`/albums/${id}`), { session, body: { publishAt } });
    expect((await patch(moved.id, later)).body.publishAt).toBe(later);
    const cleared = await makeAlbum(t.app, owner, { artistId: artist.id, publishAt: at(HOUR) });
    const res = await patch(cleared.id, null);
    expect(res.status).toBe(200);
    expect(res.body.publishAt).toBeNull();
    expect(await albumStatus(cleared.id)).toBe(200);
    expect(await announcements(cleared.id)).toBe(1);
    const past = await makeAlbum(t.app, admin, { artistId: artist.id, publishAt: at(2 * HOUR) });
    expect((await patch(past.id, at(-HOUR), admin)).status).toBe(200);
    expect(await albumStatus(past.id)).toBe(200);
    const earlier = await makeAlbum(t.app, owner, { artistId: artist.id, publishAt: at(2 * HOUR) });
    await patch(earlier.id, at(HOUR / 2));

    await advance(HOUR / 2);
    expect(await albumStatus(earlier.id)).toBe(200);
    await advance(HOUR / 2);
    // The jobs of the old times did nothing.
    expect(await albumStatus(moved.id)).toBe(404);
    expect(await announcements(moved.id)).toBe(0);
    expect(await announcements(cleared.id)).toBe(1);
    await advance(HOUR);
    expect(await albumStatus(past.id)).toBe(200);
    expect(await announcements(past.id)).toBe(1);
    await advance(HOUR);
    expect(await albumStatus(moved.id)).toBe(200);
    for (const album of [moved, cleared, past, earlier]) {
      expect(await announcements(album.id)).toBe(1);
      expect(await notificationsOf(album.id)).toHaveLength(1);
    }
  });

  it(
    'release an album created with a past publishAt at once; a released album cannot be rescheduled',
    SLOW,
    async () => {
      const { artist, owner } = await followedArtist();
      const publishAt = at(-HOUR);
      const album = await makeAlbum(t.app, owner, { artistId: artist.id, publishAt });
      expect(album.publishAt).toBe(publishAt);
      expect(await albumStatus(album.id)).toBe(200);
      expect(await announcements(album.id)).toBe(1);
      expect(await notificationsOf(album.id)).toHaveLength(1);

      const plain = await makeAlbum(t.app, owner, { artistId: artist.id });
      expect(plain.publishAt).toBeNull();
      const reschedule = await call(t.app, 'PATCH', api(`/albums/${plain.id}`), {
        session: owner,
        body: { publishAt: at(HOUR) },
      });
      expect(reschedule.status).toBe(409);
      expect(reschedule.body.code).toBe('ALBUM_ALREADY_RELEASED');
      // Restating or clearing it is fine.
      const same = await call(t.app, 'PATCH', api(`/albums/${album.id}`), {
        session: owner,
        body: { publishAt },
      });
      expect(same.status).toBe(200);
      const clear = await call(t.app, 'PATCH', api(`/albums/${album.id}`), {
        session: owner,
        body: { publishAt: null },
      });
      expect(clear.body.publishAt).toBeNull();
      expect(await announcements(album.id)).toBe(1);
    },
  );

  it('refuse a bad publishAt and one on someone else’s album with a problem', SLOW, async () => {
    const { artist, owner } = await followedArtist();
    const other = await makeArtistAccount(t.app, admin, (await makeArtist(t.app, admin)).id);
    const invalid = [
      'tomorrow',
      '2026-13-01T00:00:00Z',
      '2026-02-30T10:00:00Z',
      '2026-12-01T10:00:00',
      '0000-01-01T00:00:00Z',
    ];
    for (const publishAt of [...invalid, 1767225600000, true]) {
      const res = await call(t.app, 'POST', api('/albums'), {
        session: owner,
        body: { title: unique('Bad'), genre: 'Rock', releaseYear: 2026, artistId: artist.id, publishAt },
      });
      expect(res.status, String(publishAt)).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const album = await makeAlbum(t.app, owner, { artistId: artist.id });
    const bad = await call(t.app, 'PATCH', api(`/albums/${album.id}`), {
      session: owner,
      body: { publishAt: 'soon' },
    });
    expect(bad.status).toBe(400);
    const foreign = await call(t.app, 'PATCH', api(`/albums/${album.id}`), {
      session: other,
      body: { publishAt: at(HOUR) },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('NOT_OWNER');
    const asUser = await call(t.app, 'POST', api('/albums'), {
      session: fan,
      body: {
        title: unique('X'),
        genre: 'Rock',
        releaseYear: 2026,
        artistId: artist.id,
        publishAt: at(HOUR),
      },
    });
    expect(asUser.status).toBe(403);
    const onOthers = await call(t.app, 'POST', api('/albums'), {
      session: other,
      body: {
        title: unique('X'),
        genre: 'Rock',
        releaseYear: 2026,
        artistId: artist.id,
        publishAt: at(HOUR),
      },
    });
    expect(onOthers.status).toBe(403);
    expect(await announcements(album.id)).toBe(1);
  });
});
