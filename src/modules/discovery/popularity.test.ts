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

// A database of its own (as every test file): this file moves the windows weeks ahead.
useAppWithTimedDiscovery();

const DAY = 86_400_000;
const NOW = Date.now();

/** The catalog's formula: floor(12 ln(1 + followers + recent plays / 10)), at most 100. */
const popularity = (followers: number, recentPlays: number) =>
  Math.min(100, Math.floor(12 * Math.log(1 + followers + recentPlays / 10)));

/** Each listener plays the song once, as if at `when`. */
async function playsAt(when: number, listeners: Session[], songId: string) {
  for (const listener of listeners) await playAt(when, listener, songId);
  await timed.flushPlays();
}

/** Rolls the windows to `when`, as the timer or a trending read there would. */
async function rollTo(when: number) {
  setNow(when);
  await timed.trending({ window: '24h', limit: 1 });
}

const album = async (id: string) => (await call(t.app, 'GET', `/api/v1/albums/${id}`)).body;

describe('album popularity', () => {
  it('comes from followers and the last 30 days of plays, and falls as plays age', async () => {
    const listeners = await Promise.all(Array.from({ length: 35 }, () => register(t.app)));
    const made = await makeAlbum(t.app, admin);
    const song = await makeSong(t.app, admin, made.id);
    await rollTo(NOW);

    await playsAt(NOW - 20 * DAY, listeners.slice(0, 20), song.id);
    await playsAt(NOW - 3_600_000, listeners.slice(20, 30), song.id);
    // Arriving late, for an hour the 30-day window has already left: all-time only.
    await playsAt(NOW - 40 * DAY, listeners.slice(30), song.id);
    let now = await album(made.id);
    expect(now.songs[0].playCount).toBe(35);
    expect(now.popularity).toBe(popularity(0, 30));

    const fan = listeners[0]!;
    expect(
      (await call(t.app, 'PUT', `/api/v1/me/following/albums/${made.id}`, { session: fan })).status,
    ).toBe(204);
    expect((await album(made.id)).popularity).toBe(popularity(1, 30));

    // Eleven days on, the twenty plays of day -20 are 31 days old.
    await rollTo(NOW + 11 * DAY);
    now = await album(made.id);
    expect(now.popularity).toBe(popularity(1, 10));
    expect(now.songs[0].playCount).toBe(35);

    // A month later only the follower is left.
    await rollTo(NOW + 45 * DAY);
    expect((await album(made.id)).popularity).toBe(popularity(1, 0));
  });

  it('sorts albums by it', async () => {
    const genre = `Decay ${NOW}`;
    const [older, newer] = [
      await makeAlbum(t.app, admin, { genre }),
      await makeAlbum(t.app, admin, { genre }),
    ];
    const [oldSong, newSong] = [
      await makeSong(t.app, admin, older.id),
      await makeSong(t.app, admin, newer.id),
    ];
    const listeners = await Promise.all(Array.from({ length: 12 }, () => register(t.app)));
    // Relative to where the windows now stand (45 days on): many plays 25 days ago, few today.
    const base = NOW + 45 * DAY;
    await playsAt(base - 25 * DAY, listeners, oldSong.id);
    await playsAt(base - 60_000, listeners.slice(0, 3), newSong.id);
    const order = async () =>
      (
        await call(t.app, 'GET', `/api/v1/albums?genre=${encodeURIComponent(genre)}&sort=-popularity`)
      ).body.items.map((a: { id: string }) => a.id);
    expect(await order()).toEqual([older.id, newer.id]);
    await rollTo(base + 6 * DAY);
    expect(await order()).toEqual([newer.id, older.id]);
  });

  it("drops a deleted song's plays from its album's popularity", async () => {
    const made = await makeAlbum(t.app, admin);
    const [kept, deleted] = [await makeSong(t.app, admin, made.id), await makeSong(t.app, admin, made.id)];
    const listeners = await Promise.all(Array.from({ length: 20 }, () => register(t.app)));
    const base = NOW + 45 * DAY;
    await playsAt(base - 60_000, listeners.slice(0, 5), kept.id);
    await playsAt(base - 60_000, listeners, deleted.id);
    expect((await album(made.id)).popularity).toBe(popularity(0, 25));

    expect((await call(t.app, 'DELETE', `/api/v1/songs/${deleted.id}`, { session: admin })).status).toBe(204);
    // The catalog's song_deleted event reaches discovery through the outbox.
    await t.app.services.events.relay.drain();
    expect((await album(made.id)).popularity).toBe(popularity(0, 5));
  });
});
