import { describe, expect, it } from 'vitest';
import {
  admin,
  playAt,
  setNow,
  t,
  timed,
  useAppWithTimedDiscovery,
} from '../../../test/discovery-context.js';
import { makeAlbum, makeSong } from '../../../test/factories.js';
import { call, register, type Session } from '../../../test/helpers.js';

useAppWithTimedDiscovery();

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms);

async function newSong(overrides: Record<string, unknown> = {}) {
  const album = await makeAlbum(t.app, admin, overrides);
  return { album, song: await makeSong(t.app, admin, album.id) };
}

const play = (session: Session, songId: string, body: unknown = { event: 'play' }) =>
  call(t.app, 'POST', `/api/v1/songs/${songId}/plays`, { session, body });

/** Counters follow plays within a flush interval; reads that assert them flush first. */
const flushPlays = () => Promise.all([t.app.services.discovery.flushPlays(), timed.flushPlays()]);

async function playCount(songId: string): Promise<number> {
  await flushPlays();
  return (await call(t.app, 'GET', `/api/v1/songs/${songId}`, { session: admin })).body.playCount;
}

async function trending(window: string, limit = 100) {
  await flushPlays();
  const res = await call(t.app, 'GET', `/api/v1/songs/trending?window=${window}&limit=${limit}`);
  expect(res.status).toBe(200);
  return res.body.items as { rank: number; plays: number; song: { id: string } }[];
}

const playsIn = (items: { plays: number; song: { id: string } }[], songId: string) =>
  items.find((i) => i.song.id === songId)?.plays ?? 0;

describe('POST /songs/:id/plays', () => {
  it('answers 202 and counts a play on the song, its album and its popularity', async () => {
    const user = await register(t.app);
    const { album, song } = await newSong();
    const res = await play(user, song.id, { event: 'play', positionMs: 0 });
    expect(res.status).toBe(202);
    expect(res.raw.body).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
    expect(await playCount(song.id)).toBe(1);
    const albumNow = await call(t.app, 'GET', `/api/v1/albums/${album.id}`);
    expect(albumNow.body.popularity).toBeGreaterThan(0);
    expect(albumNow.body.songs[0].playCount).toBe(1);
  });

  it('counts only play events: complete and skip are signals, not plays', async () => {
    const user = await register(t.app);
    const { song } = await newSong();
    expect((await play(user, song.id, { event: 'complete', positionMs: 200_000 })).status).toBe(202);
    expect((await play(user, song.id, { event: 'skip', positionMs: 5_000 })).status).toBe(202);
    expect(await playCount(song.id)).toBe(0);
    expect(playsIn(await trending('24h'), song.id)).toBe(0);
  });

  it("counts one user's repeated plays of a song once per 30 seconds (the abuse bound)", async () => {
    const [looper, other] = [await register(t.app), await register(t.app)];
    const { song } = await newSong();
    for (let i = 0; i < 10; i++) expect((await play(looper, song.id)).status).toBe(202);
    expect(await playCount(song.id)).toBe(1);
    await play(other, song.id);
    expect(await playCount(song.id)).toBe(2);

    // The window runs from the counted play, the looper's first: its time as the server recorded
    // it, not this test's clock reading (seconds later on a busy machine).
    const history = await call(t.app, 'GET', '/api/v1/me/recently-played?limit=50', { session: looper });
    const base = Math.min(...history.body.items.map((i: { playedAt: string }) => Date.parse(i.playedAt)));
    await playAt(new Date(base + 29_000), looper, song.id);
    expect(await playCount(song.id)).toBe(2);
    await playAt(new Date(base + 31_000), looper, song.id);
    expect(await playCount(song.id)).toBe(3);
    await playAt(new Date(base + 50_000), looper, song.id);
    expect(await playCount(song.id)).toBe(3);
    await playAt(new Date(base + 62_000), looper, song.id);
    expect(await playCount(song.id)).toBe(4);
    // Charts see exactly the counted plays.
    expect(playsIn(await trending('24h'), song.id)).toBe(4);
  });

  it('counts concurrent plays of several songs exactly, whenever the flushes fall', async () => {
    const listeners = await Promise.all(Array.from({ length: 8 }, () => register(t.app)));
    const [first, second] = [await makeAlbum(t.app, admin), await makeAlbum(t.app, admin)];
    const songs = [
      await makeSong(t.app, admin, first.id),
      await makeSong(t.app, admin, first.id),
      await makeSong(t.app, admin, second.id),
    ];
    // Every listener plays every song three times at once: one play each counts, 8 per song.
    const requests = listeners.flatMap((listener) =>
      songs.flatMap((song) => [1, 2, 3].map(() => play(listener, song.id))),
    );
    const flushes = [1, 2, 3].map(() => t.app.services.discovery.flushPlays());
    const answers = await Promise.all(requests);
    await Promise.all(flushes);
    expect(answers.every((res) => res.status === 202)).toBe(true);

    for (const song of songs) expect(await playCount(song.id)).toBe(8);
    const albumOf = async (id: string) => (await call(t.app, 'GET', `/api/v1/albums/${id}`)).body;
    const [one, two] = [await albumOf(first.id), await albumOf(second.id)];
    expect(one.songs.map((s: { playCount: number }) => s.playCount)).toEqual([8, 8]);
    // popularity = floor(12 ln(1 + followers + plays / 10)), the catalog's formula.
    expect(one.popularity).toBe(Math.floor(12 * Math.log(1 + 16 / 10)));
    expect(two.popularity).toBe(Math.floor(12 * Math.log(1 + 8 / 10)));
    const day = await trending('24h');
    for (const song of songs) expect(playsIn(day, song.id)).toBe(8);
  });

  it('answers each event of a concurrent burst as if it came alone (plays share statements)', async () => {
    const user = await register(t.app);
    const { song: open } = await newSong();
    const { song: hidden } = await newSong({ isPublic: false });
    const unknown = '0190f5f3-0000-7000-8000-000000000001';
    const burst: [Session, string, string, number][] = [
      [user, open.id, 'play', 202],
      [user, open.id, 'complete', 202],
      [user, open.id, 'play', 202],
      [user, hidden.id, 'play', 404],
      [admin, hidden.id, 'play', 202],
      [user, open.id, 'skip', 202],
      [user, unknown, 'play', 404],
      [admin, hidden.id, 'play', 202],
      [user, open.id, 'play', 202],
    ];
    const answers = await Promise.all(burst.map(([who, songId, event]) => play(who, songId, { event })));
    expect(answers.map((res) => res.status)).toEqual(burst.map(([, , , status]) => status));
    expect(answers[3]!.body.code).toBe('SONG_NOT_FOUND');
    // The abuse bound holds inside one burst: one counted play per user and song.
    expect(await playCount(open.id)).toBe(1);
    expect(await playCount(hidden.id)).toBe(1);
    // Every accepted play is in the history (recently played lists play events), nothing else.
    const history = await call(t.app, 'GET', '/api/v1/me/recently-played?limit=50', { session: user });
    expect(history.body.items.map((i: { song: { id: string } }) => i.song.id)).toEqual(
      Array(3).fill(open.id),
    );
  });

  it('shows counted plays within about a second without an explicit flush', async () => {
    const user = await register(t.app);
    const { song } = await newSong();
    const started = Date.now();
    expect((await play(user, song.id)).status).toBe(202);
    let seen = 0;
    // The flusher runs every second on its own; the bound is loose for a busy machine, and what
    // fails without the flusher is that the count never shows.
    while (seen === 0 && Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = (await call(t.app, 'GET', `/api/v1/songs/${song.id}`)).body.playCount;
    }
    expect(seen).toBe(1);
  });

  it('is 404 for a song the caller may not see, and for unknown songs', async () => {
    const user = await register(t.app);
    const { song } = await newSong({ isPublic: false });
    expect((await play(user, song.id)).body.code).toBe('SONG_NOT_FOUND');
    expect((await play(user, '0190f5f3-0000-7000-8000-000000000000')).status).toBe(404);
    // The admin may open it, so the admin's play is taken (and counted).
    expect((await play(admin, song.id)).status).toBe(202);
    expect(await playCount(song.id)).toBe(1);
  });

  it('needs a signed-in caller and a valid body', async () => {
    const user = await register(t.app);
    const { song } = await newSong();
    const anonymous = await call(t.app, 'POST', `/api/v1/songs/${song.id}/plays`, {
      body: { event: 'play' },
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    for (const body of [
      {},
      { event: 'pause' },
      { event: 'play', positionMs: -1 },
      { event: 'play', positionMs: 1.5 },
      { event: 'play', userId: user.user.id },
    ]) {
      const res = await play(user, song.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await play(user, 'not-a-uuid')).status).toBe(400);
    expect(await playCount(song.id)).toBe(0);
  });
});

describe('GET /songs/trending', () => {
  it('counts each window from its own hours: older than 24h is in 7d, older than 7d only in 30d', async () => {
    const listeners = await Promise.all([1, 2, 3, 4, 5, 6].map(() => register(t.app)));
    const { song: old } = await newSong();
    const { song: fresh } = await newSong();
    await playAt(ago(26 * HOUR), listeners[0]!, old.id);
    await playAt(ago(3 * 24 * HOUR), listeners[1]!, old.id);
    await playAt(ago(10 * 24 * HOUR), listeners[2]!, old.id);
    await playAt(ago(31 * 24 * HOUR), listeners[3]!, old.id);
    await play(listeners[4]!, fresh.id);
    await playAt(ago(2 * HOUR), listeners[5]!, fresh.id);

    const [day, week, month] = [await trending('24h'), await trending('7d'), await trending('30d')];
    expect(playsIn(day, old.id)).toBe(0);
    expect(playsIn(day, fresh.id)).toBe(2);
    expect(playsIn(week, old.id)).toBe(2);
    expect(playsIn(month, old.id)).toBe(3);
    expect(playsIn(month, fresh.id)).toBe(2);
    // playCount is all-time.
    expect(await playCount(old.id)).toBe(4);
  });

  it('keeps the windows right as hours pass (totals roll, nothing is rescanned)', async () => {
    const user = await register(t.app);
    const { song } = await newSong();
    await playAt(ago(22 * HOUR + 30 * 60_000), user, song.id);
    expect(playsIn(await trending('24h'), song.id)).toBe(1);
    // Two hours later the play is 24.5 hours old: out of 24h, still in 7d.
    setNow(Date.now() + 2 * HOUR);
    const later = (await timed.trending({ window: '24h', limit: 100 })).items;
    expect(playsIn(later, song.id)).toBe(0);
    expect(playsIn((await timed.trending({ window: '7d', limit: 100 })).items, song.id)).toBe(1);
    // A late event for an hour a window has already rolled past is not counted in it.
    await playAt(ago(25 * HOUR), await register(t.app), song.id);
    await flushPlays();
    expect(playsIn((await timed.trending({ window: '24h', limit: 100 })).items, song.id)).toBe(0);
    expect(playsIn((await timed.trending({ window: '7d', limit: 100 })).items, song.id)).toBe(2);
  });

  it('ranks 1, 2, 3 by plays with ties by id, and leaves hidden songs out', async () => {
    const listeners = await Promise.all([1, 2, 3].map(() => register(t.app)));
    const songs = await Promise.all([1, 2, 3, 4].map(() => newSong({ genre: 'Trend' })));
    const [a, b, c, hidden] = songs.map((s) => s.song);
    // 30 plays a window apart per listener would need time: three listeners give a 3, a 2, two 1s.
    for (const listener of listeners) await play(listener, a.id);
    for (const listener of listeners.slice(0, 2)) await play(listener, hidden.id);
    await play(listeners[0]!, b.id);
    await play(listeners[1]!, c.id);
    await call(t.app, 'PATCH', `/api/v1/albums/${songs[3]!.album.id}`, {
      session: admin,
      body: { isPublic: false },
    });

    const items = await trending('24h');
    expect(items.map((i) => i.rank)).toEqual(items.map((_, i) => i + 1));
    expect(items.some((i) => i.song.id === hidden.id)).toBe(false);
    for (let i = 1; i < items.length; i++) {
      const [prev, next] = [items[i - 1]!, items[i]!];
      expect(prev.plays > next.plays || (prev.plays === next.plays && prev.song.id < next.song.id)).toBe(
        true,
      );
    }
    const mine = items.filter((i) => [a.id, b.id, c.id].includes(i.song.id));
    expect(mine.map((i) => i.song.id)).toEqual([a.id, ...[b.id, c.id].sort()]);
    expect(mine[0]!.plays).toBe(3);
    expect(mine[0]!.song).toMatchObject({ id: a.id, title: a.title, playCount: 3 });
  });

  it('validates window and limit', async () => {
    expect((await trending('7d', 1)).length).toBeLessThanOrEqual(1);
    for (const query of ['window=1h', 'limit=0', 'limit=101', 'offset=5']) {
      const res = await call(t.app, 'GET', `/api/v1/songs/trending?${query}`);
      expect(res.status, query).toBe(400);
    }
    expect((await call(t.app, 'GET', '/api/v1/songs/trending')).status).toBe(200);
  });
});

describe('GET /me/recently-played', () => {
  it('pages newest first with an opaque cursor, play events only, own plays only', async () => {
    const [user, other] = [await register(t.app), await register(t.app)];
    const songs = await Promise.all([1, 2, 3, 4].map(async () => (await newSong()).song));
    const base = Date.now() - HOUR;
    for (const [i, song] of songs.entries()) {
      await playAt(new Date(base + i * 60_000), user, song.id);
      await playAt(new Date(base + i * 60_000 + 30_000), user, song.id, 'complete');
    }
    // A replay within 30 s does not count, but it was played: the history shows it.
    await playAt(new Date(base + 4 * 60_000), user, songs[0]!.id);
    await playAt(new Date(base + 5 * 60_000), other, songs[1]!.id);

    const seen: { playedAt: string; song: { id: string } }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/me/recently-played?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await call(t.app, 'GET', url, { session: user });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.map((i) => i.song.id)).toEqual(
      [songs[0], songs[3], songs[2], songs[1], songs[0]].map((s) => s!.id),
    );
    expect(seen[0]!.playedAt).toBe(new Date(base + 4 * 60_000).toISOString());
    expect(seen[1]!.song).toMatchObject({
      id: songs[3]!.id,
      title: songs[3]!.title,
      album: { id: expect.any(String) },
    });
  });

  it('leaves out songs hidden since they were played', async () => {
    const user = await register(t.app);
    const { album, song } = await newSong();
    await play(user, song.id);
    await call(t.app, 'PATCH', `/api/v1/albums/${album.id}`, { session: admin, body: { isPublic: false } });
    const res = await call(t.app, 'GET', '/api/v1/me/recently-played', { session: user });
    expect(res.body).toEqual({ items: [], nextCursor: null });
  });

  it('rejects malformed cursors and anonymous callers', async () => {
    const user = await register(t.app);
    for (const cursor of ['nope', Buffer.from('1.x').toString('base64url'), 'a'.repeat(201)]) {
      const res = await call(t.app, 'GET', `/api/v1/me/recently-played?cursor=${cursor}`, { session: user });
      expect(res.status, cursor).toBe(400);
    }
    const bad = await call(t.app, 'GET', '/api/v1/me/recently-played?cursor=nope', { session: user });
    expect(bad.body.code).toBe('INVALID_CURSOR');
    expect((await call(t.app, 'GET', '/api/v1/me/recently-played')).status).toBe(401);
  });
});
