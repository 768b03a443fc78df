import { beforeAll, describe, expect, it } from 'vitest';
import { admin, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeSong } from '../../../test/factories.js';
import { call, register, type Session } from '../../../test/helpers.js';

useAppWithAdminAndUser();

interface Item {
  score: number;
  reason: string;
  song: { id: string; genre: string; artist: { id: string } };
}

/**
 * A hand-built catalog: two rock artists around 1995, a jazz artist from 1960, a hidden
 * album, and listeners whose finishes and skips make the collaborative signal.
 */
const s: Record<string, { id: string }> = {};
let rockArtist: { id: string };
beforeAll(async () => {
  rockArtist = await makeArtist(t.app, admin);
  const rock1 = await makeAlbum(t.app, admin, { artistId: rockArtist.id, genre: 'Rock', releaseYear: 1995 });
  const rock2 = await makeAlbum(t.app, admin, { genre: 'rock', releaseYear: 1996 });
  const jazz = await makeAlbum(t.app, admin, { genre: 'Jazz', releaseYear: 1960 });
  const hidden = await makeAlbum(t.app, admin, { genre: 'Rock', releaseYear: 1995, isPublic: false });
  for (const [name, album] of [
    ['r1', rock1],
    ['r2', rock1],
    ['r3', rock1],
    ['o1', rock2],
    ['o2', rock2],
    ['j1', jazz],
    ['j2', jazz],
    ['j3', jazz],
    ['h1', hidden],
  ] as const) {
    s[name] = await makeSong(t.app, admin, album.id);
  }
});

const event = (session: Session, song: string, kind: 'play' | 'complete' | 'skip') =>
  call(t.app, 'POST', `/api/v1/songs/${s[song]!.id}/plays`, { session, body: { event: kind } });

async function finish(session: Session, ...songs: string[]) {
  for (const song of songs) {
    expect((await event(session, song, 'play')).status).toBe(202);
    expect((await event(session, song, 'complete')).status).toBe(202);
  }
}

async function recommendations(session: Session, limit = 100): Promise<Item[]> {
  const res = await call(t.app, 'GET', `/api/v1/me/recommendations?limit=${limit}`, { session });
  expect(res.status).toBe(200);
  return res.body.items;
}

async function similar(song: string, session?: Session, limit = 100): Promise<Item[]> {
  const res = await call(t.app, 'GET', `/api/v1/songs/${s[song]!.id}/similar?limit=${limit}`, { session });
  expect(res.status).toBe(200);
  return res.body.items;
}

const idsOf = (items: Item[]) => items.map((i) => i.song.id);
const nameOf = (id: string) => Object.entries(s).find(([, song]) => song.id === id)?.[0];
const namesOf = (items: Item[]) => items.map((i) => nameOf(i.song.id));

/** Properties every list must have: scores 0..1 best first (ties by id), unique, visible songs. */
function expectWellFormed(items: Item[]) {
  expect(new Set(idsOf(items)).size).toBe(items.length);
  expect(idsOf(items)).not.toContain(s.h1!.id);
  for (const [i, item] of items.entries()) {
    expect(item.score).toBeGreaterThanOrEqual(0);
    expect(item.score).toBeLessThanOrEqual(1);
    const next = items[i + 1];
    if (next)
      expect(item.score > next.score || (item.score === next.score && item.song.id < next.song.id)).toBe(
        true,
      );
  }
}

describe('a new user and a new song', () => {
  it('recommends what is trending (or popular) to someone with no history', async () => {
    const newcomer = await register(t.app);
    const fan = await register(t.app);
    await finish(fan, 'j2');
    // Trending counts follow plays within a flush interval.
    await t.app.services.discovery.flushPlays();
    const items = await recommendations(newcomer, 5);
    expectWellFormed(items);
    expect(items).toHaveLength(5);
    expect(items[0]).toMatchObject({ reason: 'trending', song: { id: s.j2!.id } });
    expect(new Set(items.slice(1).map((i) => i.reason))).toEqual(new Set(['popular']));
  });

  it('finds songs similar to an unplayed song by artist, genre and era', async () => {
    const items = await similar('r3');
    expectWellFormed(items);
    expect(idsOf(items)).not.toContain(s.r3!.id);
    // Same artist first, then the same genre (spelled differently), then the rest as filler.
    expect(namesOf(items).slice(0, 2).sort()).toEqual(['r1', 'r2']);
    expect(items[0]!.reason).toBe('same-artist');
    expect(namesOf(items).slice(2, 4).sort()).toEqual(['o1', 'o2']);
    expect(items[2]!.reason).toBe('same-genre');
  });
});

describe('collaborative signals', () => {
  let me: Session;
  beforeAll(async () => {
    me = await register(t.app);
    // Listeners who finish r1 also finish j1; they skip j3.
    for (let i = 0; i < 3; i++) {
      const listener = await register(t.app);
      await finish(listener, 'r1', 'j1');
      await event(listener, 'j3', 'skip');
    }
    // The admin may play hidden songs: a neighbour who votes for one.
    await finish(admin, 'r1', 'h1');
    await finish(me, 'r1');
    await event(me, 'o2', 'skip');
  });

  it('recommends what the same listeners finished, never the seed, a hidden or a skipped song', async () => {
    const items = await recommendations(me);
    expectWellFormed(items);
    const names = namesOf(items);
    expect(names).not.toContain('r1');
    expect(names).not.toContain('o2');
    expect(names[0]).toBe('j1');
    expect(items[0]!.reason).toBe('co-listened');
    // Skips count against: j3 is skipped by the neighbours, so it scores below every rock song.
    const score = (name: string) => items.find((i) => nameOf(i.song.id) === name)?.score ?? 0;
    expect(score('j3')).toBeLessThan(score('r2'));
  });

  it('finds similar songs from the same listeners, and drops what the caller skipped', async () => {
    const anonymous = await similar('r1');
    expectWellFormed(anonymous);
    expect(namesOf(anonymous)).not.toContain('r1');
    const j1 = anonymous.findIndex((i) => nameOf(i.song.id) === 'j1');
    expect(anonymous[j1]!.reason).toBe('co-listened');
    // Finished by most of the same listeners: above rock songs by other artists.
    expect(j1).toBeLessThan(namesOf(anonymous).indexOf('o1'));
    expect(namesOf(anonymous)).toContain('o2');

    const mine = await similar('r1', me);
    expect(namesOf(mine)).not.toContain('o2');
  });

  it('keeps up with new signals at once', async () => {
    const fresh = await register(t.app);
    await finish(fresh, 'r1');
    expect(namesOf(await recommendations(fresh))).toContain('j1');
    await event(fresh, 'j1', 'skip');
    expect(namesOf(await recommendations(fresh))).not.toContain('j1');
  });

  it('404s a seed the caller may not see; the admin sees it but still gets no hidden songs', async () => {
    const user = await register(t.app);
    const res = await call(t.app, 'GET', `/api/v1/songs/${s.h1!.id}/similar`, { session: user });
    expect(res.status).toBe(404);
    expect((await call(t.app, 'GET', `/api/v1/songs/${s.h1!.id}/similar`)).status).toBe(404);
    const forAdmin = await similar('h1', admin);
    expectWellFormed(forAdmin);
    expect(forAdmin.length).toBeGreaterThan(0);
  });
});

describe('validation', () => {
  it('takes limit 1..100 only, and needs a user for /me', async () => {
    const user = await register(t.app);
    expect(await recommendations(user, 2)).toHaveLength(2);
    expect(await similar('r1', undefined, 1)).toHaveLength(1);
    for (const query of ['limit=0', 'limit=101', 'offset=1', 'limit=abc']) {
      const me = await call(t.app, 'GET', `/api/v1/me/recommendations?${query}`, { session: user });
      expect(me.status, query).toBe(400);
      const like = await call(t.app, 'GET', `/api/v1/songs/${s.r1!.id}/similar?${query}`);
      expect(like.status, query).toBe(400);
    }
    expect((await call(t.app, 'GET', '/api/v1/me/recommendations')).status).toBe(401);
    expect((await call(t.app, 'GET', '/api/v1/songs/nope/similar')).status).toBe(400);
    expect(
      (await call(t.app, 'GET', '/api/v1/songs/0190f5f3-0000-7000-8000-000000000000/similar')).status,
    ).toBe(404);
  });
});
