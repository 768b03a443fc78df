import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { admin, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeSong, unique } from '../../../test/factories.js';
import { call, register, type Session } from '../../../test/helpers.js';
import { rowsOf } from '../../platform/db.js';

useAppWithAdminAndUser();
let alice: Session;
let bob: Session;
/** Five listed songs A..E of one album, 1..5 minutes long. */
let letters: Record<'A' | 'B' | 'C' | 'D' | 'E', { id: string; title: string; durationMs: number }>;
const byTitle = new Map<string, string>();

beforeAll(async () => {
  alice = await register(t.app, { displayName: 'Alice' });
  bob = await register(t.app, { displayName: 'Bob' });
  const album = await makeAlbum(t.app, admin);
  const made: Record<string, { id: string; title: string; durationMs: number }> = {};
  for (const [index, letter] of ['A', 'B', 'C', 'D', 'E'].entries()) {
    made[letter] = await makeSong(t.app, admin, album.id, {
      title: letter,
      durationMs: (index + 1) * 60_000,
    });
    byTitle.set(made[letter]!.id, letter);
  }
  letters = made as typeof letters;
});

const api = (path: string) => `/api/v1${path}`;
const ids = (word: string) => [...word].map((letter) => letters[letter as keyof typeof letters].id);

async function createPlaylist(session: Session, body: Record<string, unknown> = {}) {
  const res = await call(t.app, 'POST', api('/playlists'), {
    session,
    body: { name: unique('Mix'), ...body },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string };
}

async function playlistWith(word: string, session = alice, body: Record<string, unknown> = {}) {
  const playlist = await createPlaylist(session, body);
  if (word) {
    const res = await call(t.app, 'POST', api(`/playlists/${playlist.id}/tracks`), {
      session,
      body: { songIds: ids(word) },
    });
    expect(res.status).toBe(200);
  }
  return playlist;
}

/** The playlist as its owner reads it: the letters in order, after checking positions are 0..n-1. */
async function lettersOf(id: string, session: Session | null = alice): Promise<string> {
  const res = await call(t.app, 'GET', api(`/playlists/${id}`), { session: session ?? undefined });
  expect(res.status).toBe(200);
  const tracks = res.body.tracks as {
    position: number;
    song: { id: string; title: string; durationMs: number };
  }[];
  expect(tracks.map((track) => track.position)).toEqual(tracks.map((_, index) => index));
  expect(res.body.trackCount).toBe(tracks.length);
  expect(res.body.durationMs).toBe(tracks.reduce((sum, track) => sum + track.song.durationMs, 0));
  return tracks.map((track) => byTitle.get(track.song.id) ?? track.song.title).join('');
}

const editTracks = (
  method: 'POST' | 'DELETE' | 'PUT',
  id: string,
  body: Record<string, unknown>,
  session: Session | null = alice,
) =>
  call(t.app, method, api(`/playlists/${id}/tracks${method === 'PUT' ? '/order' : ''}`), {
    session: session ?? undefined,
    body,
  });

describe('playlists', () => {
  it('creates a public playlist by default, with Location and the owner', async () => {
    const res = await call(t.app, 'POST', api('/playlists'), { session: alice, body: { name: 'Road trip' } });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(api(`/playlists/${res.body.id}`));
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'Road trip',
      description: null,
      owner: { id: alice.user.id, displayName: 'Alice' },
      isPublic: true,
      trackCount: 0,
      durationMs: 0,
      followerCount: 0,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const detail = await call(t.app, 'GET', api(`/playlists/${res.body.id}`));
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ name: 'Road trip', tracks: [] });
  });

  it.each([
    [{ name: '' }, '/name'],
    [{ name: '   ' }, '/name'],
    [{ name: 'x'.repeat(101) }, '/name'],
    [{ name: 'ok', description: 'x'.repeat(301) }, '/description'],
    [{ name: 'ok', ownerId: '0190a000-0000-7000-8000-000000000000' }, '/ownerId'],
    [{ name: 'ok', followerCount: 5 }, '/followerCount'],
  ])('rejects %j with 400', async (body, path) => {
    const res = await call(t.app, 'POST', api('/playlists'), { session: alice, body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('needs a signed-in caller to create', async () => {
    const res = await call(t.app, 'POST', api('/playlists'), { body: { name: 'x' } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('shows a private playlist only to its owner and admins, and 400 for a malformed id', async () => {
    const playlist = await createPlaylist(alice, { isPublic: false, description: 'secret' });
    const read = (session?: Session) => call(t.app, 'GET', api(`/playlists/${playlist.id}`), { session });
    expect((await read(alice)).status).toBe(200);
    expect((await read(admin)).body).toMatchObject({
      id: playlist.id,
      isPublic: false,
      description: 'secret',
    });
    expect((await read(bob)).status).toBe(404);
    expect((await read(bob)).body.code).toBe('PLAYLIST_NOT_FOUND');
    expect((await read()).status).toBe(404);
    expect((await call(t.app, 'GET', api('/playlists/not-a-uuid'))).status).toBe(400);
  });

  it('lets the owner and admins change a playlist; others get 403 (public) or 404 (private)', async () => {
    const playlist = await createPlaylist(alice);
    const patch = (body: Record<string, unknown>, session?: Session) =>
      call(t.app, 'PATCH', api(`/playlists/${playlist.id}`), { session, body });

    const renamed = await patch({ name: 'Renamed', description: 'for the road' }, alice);
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Renamed', description: 'for the road', isPublic: true });
    expect(Date.parse(renamed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(renamed.body.createdAt));

    expect((await patch({ name: 'Mine now' }, bob)).status).toBe(403);
    expect((await patch({ name: 'Mine now' }, bob)).body.code).toBe('NOT_PLAYLIST_OWNER');
    expect((await patch({ name: 'x' })).status).toBe(401);
    expect((await patch({}, alice)).status).toBe(400);
    expect((await patch({ isPublic: false }, alice)).body.isPublic).toBe(false);
    expect((await patch({ name: 'Mine now' }, bob)).status).toBe(404);
    const moderated = await patch({ name: 'Moderated', description: null }, admin);
    expect(moderated.status).toBe(200);
    expect(moderated.body).toMatchObject({ name: 'Moderated', description: null, isPublic: false });
  });

  it('deletes for the owner or an admin only', async () => {
    const playlist = await createPlaylist(alice);
    const del = (session?: Session) => call(t.app, 'DELETE', api(`/playlists/${playlist.id}`), { session });
    expect((await del()).status).toBe(401);
    expect((await del(bob)).status).toBe(403);
    expect((await del(admin)).status).toBe(204);
    expect((await call(t.app, 'GET', api(`/playlists/${playlist.id}`), { session: alice })).status).toBe(404);
    expect((await del(alice)).status).toBe(404);

    const own = await createPlaylist(alice, { isPublic: false });
    expect((await call(t.app, 'DELETE', api(`/playlists/${own.id}`), { session: bob })).status).toBe(404);
    expect((await call(t.app, 'DELETE', api(`/playlists/${own.id}`), { session: alice })).status).toBe(204);
  });

  it("lists the caller's playlists with private ones, and a user's public ones only", async () => {
    const owner = await register(t.app, { displayName: 'Lister' });
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await createPlaylist(owner, { isPublic: i !== 1 }));

    const mine = await call(t.app, 'GET', api('/me/playlists?limit=2'), { session: owner });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ total: 3, limit: 2, offset: 0, previous: null });
    expect(mine.body.items.map((p: { id: string }) => p.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(mine.body.next).toBe('/api/v1/me/playlists?limit=2&offset=2');
    const rest = await call(t.app, 'GET', api(mine.body.next.slice('/api/v1'.length)), { session: owner });
    expect(rest.body.items.map((p: { id: string }) => p.id)).toEqual([made[0]!.id]);

    for (const session of [undefined, owner, admin]) {
      const theirs = await call(t.app, 'GET', api(`/users/${owner.user.id}/playlists`), { session });
      expect(theirs.status).toBe(200);
      expect(theirs.body.total).toBe(2);
      expect(theirs.body.items.map((p: { id: string }) => p.id)).toEqual([made[2]!.id, made[0]!.id]);
    }
    const nobody = await call(t.app, 'GET', api('/users/0190a000-0000-7000-8000-000000000000/playlists'));
    expect(nobody.status).toBe(404);
    expect((await call(t.app, 'GET', api('/me/playlists'))).status).toBe(401);
    expect((await call(t.app, 'GET', api('/me/playlists?limit=101'), { session: owner })).status).toBe(400);
  });
});

describe('playlist tracks', () => {
  it('appends songs, duplicates allowed, answering the playlist with count and duration', async () => {
    const playlist = await createPlaylist(alice);
    const first = await editTracks('POST', playlist.id, { songIds: ids('AB') });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: playlist.id, trackCount: 2, durationMs: 180_000 });
    expect(first.body).not.toHaveProperty('tracks');
    const again = await editTracks('POST', playlist.id, { songIds: ids('AA') });
    expect(again.body).toMatchObject({ trackCount: 4, durationMs: 300_000 });
    expect(await lettersOf(playlist.id)).toBe('ABAA');

    const detail = await call(t.app, 'GET', api(`/playlists/${playlist.id}`));
    expect(detail.body.tracks[0]).toEqual({
      position: 0,
      addedAt: expect.any(String),
      song: expect.objectContaining({ id: letters.A.id, title: 'A', album: expect.any(Object) }),
    });
  });

  it('inserts at a position, at the end when it equals the length, and rejects one beyond it', async () => {
    const playlist = await playlistWith('ABC');
    expect((await editTracks('POST', playlist.id, { songIds: ids('DE'), position: 1 })).status).toBe(200);
    expect(await lettersOf(playlist.id)).toBe('ADEBC');
    expect((await editTracks('POST', playlist.id, { songIds: ids('A'), position: 0 })).status).toBe(200);
    expect((await editTracks('POST', playlist.id, { songIds: ids('E'), position: 6 })).status).toBe(200);
    expect(await lettersOf(playlist.id)).toBe('AADEBCE');
    const beyond = await editTracks('POST', playlist.id, { songIds: ids('B'), position: 8 });
    expect(beyond.status).toBe(400);
    expect(beyond.body).toMatchObject({ code: 'POSITION_OUT_OF_RANGE', errors: [{ path: '/position' }] });
    expect(await lettersOf(playlist.id)).toBe('AADEBCE');
  });

  it('rejects the whole add when one song is unknown or hidden, naming the reference', async () => {
    const hiddenAlbum = await makeAlbum(t.app, admin, { isPublic: false });
    const hidden = await makeSong(t.app, admin, hiddenAlbum.id);
    const playlist = await playlistWith('A');

    const unknown = await editTracks('POST', playlist.id, {
      songIds: [letters.B.id, '0190a000-0000-7000-8000-000000000000', letters.C.id],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: 'UNKNOWN_SONG', errors: [{ path: '/songIds/1' }] });
    // Admins may see the hidden song, but playlists hold only songs everyone may see.
    for (const session of [alice, admin]) {
      const mine = session === admin ? await playlistWith('', admin) : playlist;
      const res = await editTracks('POST', mine.id, { songIds: [letters.B.id, hidden.id] }, session);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'UNKNOWN_SONG', errors: [{ path: '/songIds/1' }] });
    }
    expect(await lettersOf(playlist.id)).toBe('A');

    expect((await editTracks('POST', playlist.id, { songIds: ['nope'] })).status).toBe(400);
    expect((await editTracks('POST', playlist.id, { songIds: [] })).status).toBe(400);
    const tooMany = await editTracks('POST', playlist.id, { songIds: Array(101).fill(letters.A.id) });
    expect(tooMany.status).toBe(400);
  });

  it('removes several positions at once and rejects out-of-range or repeated ones', async () => {
    const playlist = await playlistWith('ABCDE');
    const res = await editTracks('DELETE', playlist.id, { positions: [4, 0, 2] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      trackCount: 2,
      durationMs: letters.B.durationMs + letters.D.durationMs,
    });
    expect(await lettersOf(playlist.id)).toBe('BD');

    const beyond = await editTracks('DELETE', playlist.id, { positions: [0, 2] });
    expect(beyond.status).toBe(400);
    expect(beyond.body).toMatchObject({ code: 'POSITION_OUT_OF_RANGE', errors: [{ path: '/positions/1' }] });
    expect((await editTracks('DELETE', playlist.id, { positions: [1, 1] })).status).toBe(400);
    expect((await editTracks('DELETE', playlist.id, { positions: [] })).status).toBe(400);
    expect(await lettersOf(playlist.id)).toBe('BD');
  });

  it.each([
    [{ rangeStart: 1, rangeLength: 2, insertBefore: 5 }, 'ADEBC'],
    [{ rangeStart: 3, rangeLength: 2, insertBefore: 0 }, 'DEABC'],
    [{ rangeStart: 0, insertBefore: 2 }, 'BACDE'],
    [{ rangeStart: 4, insertBefore: 0 }, 'EABCD'],
    [{ rangeStart: 0, rangeLength: 5, insertBefore: 0 }, 'ABCDE'],
    [{ rangeStart: 1, rangeLength: 2, insertBefore: 1 }, 'ABCDE'],
    [{ rangeStart: 1, rangeLength: 2, insertBefore: 3 }, 'ABCDE'],
    [{ rangeStart: 1, rangeLength: 3, insertBefore: 2 }, 'ABCDE'],
  ])('reorders ABCDE with %j into %s', async (body, expected) => {
    const playlist = await playlistWith('ABCDE');
    const res = await editTracks('PUT', playlist.id, body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: playlist.id, trackCount: 5 });
    expect(await lettersOf(playlist.id)).toBe(expected);
  });

  it.each([
    [{ rangeStart: 5, insertBefore: 0 }, '/rangeStart'],
    [{ rangeStart: 3, rangeLength: 3, insertBefore: 0 }, '/rangeLength'],
    [{ rangeStart: 0, insertBefore: 6 }, '/insertBefore'],
  ])('rejects the reorder %j of ABCDE with 400 at %s', async (body, path) => {
    const playlist = await playlistWith('ABCDE');
    const res = await editTracks('PUT', playlist.id, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'POSITION_OUT_OF_RANGE', errors: [{ path }] });
    expect(await lettersOf(playlist.id)).toBe('ABCDE');
  });

  it('validates reorder bodies', async () => {
    const playlist = await playlistWith('AB');
    for (const body of [
      { rangeStart: 0, rangeLength: 0, insertBefore: 1 },
      { rangeStart: -1, insertBefore: 1 },
      { insertBefore: 1 },
      { rangeStart: 0, insertBefore: 1, snapshotId: 'x' },
    ]) {
      expect((await editTracks('PUT', playlist.id, body)).status).toBe(400);
    }
    const empty = await playlistWith('');
    expect((await editTracks('PUT', empty.id, { rangeStart: 0, insertBefore: 0 })).status).toBe(400);
  });

  it('lets only the owner edit tracks: 403 on a public playlist, 404 on a private one, 401 anonymous', async () => {
    const open = await playlistWith('AB');
    const closed = await playlistWith('AB', alice, { isPublic: false });
    for (const [method, body] of [
      ['POST', { songIds: ids('C') }],
      ['DELETE', { positions: [0] }],
      ['PUT', { rangeStart: 0, insertBefore: 2 }],
    ] as const) {
      expect((await editTracks(method, open.id, body, bob)).status).toBe(403);
      expect((await editTracks(method, open.id, body, admin)).status).toBe(403);
      expect((await editTracks(method, closed.id, body, bob)).status).toBe(404);
      expect((await editTracks(method, open.id, body, null)).status).toBe(401);
    }
    expect(await lettersOf(open.id)).toBe('AB');
    expect(await lettersOf(closed.id)).toBe('AB');
  });

  it('keeps positions dense and loses nothing under concurrent edits', async () => {
    const playlist = await playlistWith('ABCDEABCDE');
    const added = ids('ABCDE');
    const results = await Promise.all([
      ...added.map((songId) => editTracks('POST', playlist.id, { songIds: [songId, songId] })),
      editTracks('POST', playlist.id, { songIds: ids('AB'), position: 3 }),
      editTracks('POST', playlist.id, { songIds: ids('C'), position: 0 }),
      editTracks('DELETE', playlist.id, { positions: [0, 1] }),
      editTracks('DELETE', playlist.id, { positions: [2] }),
      editTracks('PUT', playlist.id, { rangeStart: 0, rangeLength: 2, insertBefore: 6 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    const order = await lettersOf(playlist.id);
    expect(order).toHaveLength(10 + 10 + 3 - 3);
    const stored = await t.database.db.execute(
      sql`select position from playlist_tracks where playlist_id = ${playlist.id} order by position`,
    );
    const positions = (stored as unknown as { rows: { position: number }[] }).rows.map((r) => r.position);
    expect(positions).toEqual(positions.map((_, index) => index));
  });

  it('hides entries of hidden songs without breaking the positions of the rest', async () => {
    const album = await makeAlbum(t.app, admin);
    const x = await makeSong(t.app, admin, album.id, { title: 'X', durationMs: 7_000 });
    byTitle.set(x.id, 'X');
    const playlist = await createPlaylist(alice);
    await editTracks('POST', playlist.id, { songIds: [...ids('AB'), x.id, ...ids('CD')] });
    expect(await lettersOf(playlist.id)).toBe('ABXCD');

    const hide = (isPublic: boolean) =>
      call(t.app, 'PATCH', api(`/albums/${album.id}`), { session: admin, body: { isPublic } });
    expect((await hide(false)).status).toBe(200);
    expect(await lettersOf(playlist.id)).toBe('ABCD');
    for (const session of [admin, null]) expect(await lettersOf(playlist.id, session)).toBe('ABCD');
    const mine = await call(t.app, 'GET', api('/me/playlists?limit=1'), { session: alice });
    expect(mine.body.items[0]).toMatchObject({ id: playlist.id, trackCount: 4, durationMs: 600_000 });

    // Positions count what is seen: 2 is C, not the hidden X.
    expect((await editTracks('DELETE', playlist.id, { positions: [2] })).body.trackCount).toBe(3);
    expect(await lettersOf(playlist.id)).toBe('ABD');
    await editTracks('PUT', playlist.id, { rangeStart: 2, insertBefore: 0 });
    expect(await lettersOf(playlist.id)).toBe('DAB');
    await editTracks('POST', playlist.id, { songIds: ids('E'), position: 2 });
    expect(await lettersOf(playlist.id)).toBe('DAEB');

    // Shown again, the song is back where it stood among its neighbours.
    await hide(true);
    expect(await lettersOf(playlist.id)).toBe('DAEBX');
  });

  it('drops deleted songs and renumbers what remains', async () => {
    const album = await makeAlbum(t.app, admin);
    const y = await makeSong(t.app, admin, album.id, { title: 'Y' });
    const playlist = await createPlaylist(alice);
    await editTracks('POST', playlist.id, {
      songIds: [letters.A.id, y.id, letters.B.id, y.id, letters.C.id],
    });
    expect((await call(t.app, 'DELETE', api(`/songs/${y.id}`), { session: admin })).status).toBe(204);
    expect(await lettersOf(playlist.id)).toBe('ABC');
    const added = await editTracks('POST', playlist.id, { songIds: ids('D'), position: 1 });
    expect(added.body).toMatchObject({ trackCount: 4 });
    expect(await lettersOf(playlist.id)).toBe('ADBC');
  });

  it('holds at most 10,000 tracks', async () => {
    const playlist = await createPlaylist(alice);
    const hundred = Array.from({ length: 100 }, (_, index) => ids('ABCDE')[index % 5]!);
    for (let request = 0; request < 100; request++) {
      const res = await editTracks('POST', playlist.id, { songIds: hundred });
      expect(res.status).toBe(200);
    }
    const full = await editTracks('POST', playlist.id, { songIds: ids('A') });
    expect(full.status).toBe(409);
    expect(full.body.code).toBe('PLAYLIST_FULL');
    const atPosition = await editTracks('POST', playlist.id, { songIds: ids('A'), position: 0 });
    expect(atPosition.status).toBe(409);
    expect((await editTracks('DELETE', playlist.id, { positions: [0] })).body.trackCount).toBe(9_999);
    const last = await editTracks('POST', playlist.id, { songIds: ids('E'), position: 0 });
    expect(last.body).toMatchObject({ trackCount: 10_000 });

    // The detail carries the first page only; the rest is paged; exports still hold everything.
    const detail = await call(t.app, 'GET', api(`/playlists/${playlist.id}`));
    expect(detail.body.trackCount).toBe(10_000);
    expect(detail.body.tracks).toHaveLength(100);
    const tail = await call(t.app, 'GET', api(`/playlists/${playlist.id}/tracks?offset=9950`));
    expect(tail.body.items.map((track: { position: number }) => track.position)).toEqual(
      Array.from({ length: 50 }, (_, index) => 9950 + index),
    );
    const m3u = await call(t.app, 'GET', api(`/playlists/${playlist.id}/export?format=m3u8`));
    expect((m3u.body as string).match(/^#EXTINF:/gm)).toHaveLength(10_000);
    const json = await call(t.app, 'GET', api(`/playlists/${playlist.id}/export?format=json`));
    expect(json.body.tracks).toHaveLength(10_000);
  }, 120_000);

  it('pages the tracks 100 at a time by default, the detail carrying the first page', async () => {
    const playlist = await createPlaylist(alice, { isPublic: false });
    const fifty = Array.from({ length: 50 }, (_, index) => ids('ABCDE')[index % 5]!);
    for (let request = 0; request < 5; request++) {
      expect((await editTracks('POST', playlist.id, { songIds: fifty })).status).toBe(200);
    }
    const url = api(`/playlists/${playlist.id}/tracks`);
    const detail = await call(t.app, 'GET', api(`/playlists/${playlist.id}`), { session: alice });
    expect(detail.body.trackCount).toBe(250);
    expect(detail.body.tracks.map((track: { position: number }) => track.position)).toEqual(
      Array.from({ length: 100 }, (_, index) => index),
    );

    const first = await call(t.app, 'GET', url, { session: alice });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: 250, limit: 100, offset: 0, previous: null });
    expect(first.body.next).toBe(`${url}?offset=100&limit=100`);
    expect(first.body.items).toEqual(detail.body.tracks);

    const last = await call(t.app, 'GET', `${url}?limit=30&offset=240`, { session: alice });
    expect(last.body).toMatchObject({ total: 250, limit: 30, offset: 240, next: null });
    expect(last.body.previous).toBe(`${url}?limit=30&offset=210`);
    expect(last.body.items).toHaveLength(10);
    expect(last.body.items[0]).toMatchObject({ position: 240, song: { title: 'A' } });
    expect(last.body.items[0].addedAt).toEqual(expect.any(String));

    // An edit shows at once: cached pages are invalidated by it.
    expect((await editTracks('DELETE', playlist.id, { positions: [240] })).status).toBe(200);
    const after = await call(t.app, 'GET', `${url}?limit=30&offset=240`, { session: alice });
    expect(after.body.total).toBe(249);
    expect(after.body.items[0]).toMatchObject({ position: 240, song: { title: 'B' } });

    expect((await call(t.app, 'GET', url)).status).toBe(404);
    expect((await call(t.app, 'GET', url, { session: bob })).status).toBe(404);
    for (const query of ['limit=0', 'limit=101', 'offset=-1', 'offset=10001', 'sort=title']) {
      expect((await call(t.app, 'GET', `${url}?${query}`, { session: alice })).status, query).toBe(400);
    }
  });
});

describe('following playlists', () => {
  it('follows idempotently and keeps followerCount in step', async () => {
    const playlist = await createPlaylist(alice);
    const follow = (method: 'PUT' | 'DELETE', session?: Session, id = playlist.id) =>
      call(t.app, method, api(`/me/following/playlists/${id}`), { session });
    const followers = async () =>
      (await call(t.app, 'GET', api(`/playlists/${playlist.id}`))).body.followerCount as number;

    expect((await follow('PUT', bob)).status).toBe(204);
    expect((await follow('PUT', bob)).status).toBe(204);
    expect(await followers()).toBe(1);
    expect((await follow('PUT', admin)).status).toBe(204);
    expect(await followers()).toBe(2);
    expect((await follow('DELETE', bob)).status).toBe(204);
    expect((await follow('DELETE', bob)).status).toBe(204);
    expect(await followers()).toBe(1);
    expect((await follow('PUT')).status).toBe(401);
    expect((await follow('PUT', bob, '0190a000-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await follow('PUT', bob, 'nope')).status).toBe(400);
  });

  it("lists newest follow first and never another user's private playlist", async () => {
    const follower = await register(t.app);
    const first = await createPlaylist(alice);
    const second = await createPlaylist(bob);
    const ownPrivate = await createPlaylist(follower, { isPublic: false });
    const hidden = await createPlaylist(bob, { isPublic: false });
    for (const p of [first, second, ownPrivate]) {
      expect(
        (await call(t.app, 'PUT', api(`/me/following/playlists/${p.id}`), { session: follower })).status,
      ).toBe(204);
    }
    expect(
      (await call(t.app, 'PUT', api(`/me/following/playlists/${hidden.id}`), { session: follower })).status,
    ).toBe(404);

    const list = async () => {
      const res = await call(t.app, 'GET', api('/me/following/playlists'), { session: follower });
      expect(res.status).toBe(200);
      return res.body as { items: { id: string; followerCount: number }[]; total: number };
    };
    const before = await list();
    expect(before.items.map((p) => p.id)).toEqual([ownPrivate.id, second.id, first.id]);
    expect(before.items[1]).toMatchObject({ followerCount: 1 });

    await call(t.app, 'PATCH', api(`/playlists/${second.id}`), { session: bob, body: { isPublic: false } });
    const after = await list();
    expect(after).toMatchObject({ total: 2 });
    expect(after.items.map((p) => p.id)).toEqual([ownPrivate.id, first.id]);
    expect((await call(t.app, 'GET', api('/me/following/playlists'))).status).toBe(401);
  });

  it('counts down when a follower account is deleted', async () => {
    const playlist = await createPlaylist(alice);
    const leaving = await register(t.app);
    await call(t.app, 'PUT', api(`/me/following/playlists/${playlist.id}`), { session: leaving });
    await call(t.app, 'PUT', api(`/me/following/playlists/${playlist.id}`), { session: bob });
    expect((await call(t.app, 'GET', api(`/playlists/${playlist.id}`))).body.followerCount).toBe(2);
    expect(
      (await call(t.app, 'DELETE', api(`/admin/users/${leaving.user.id}`), { session: admin })).status,
    ).toBe(204);
    expect((await call(t.app, 'GET', api(`/playlists/${playlist.id}`))).body.followerCount).toBe(1);
  });
});

describe('playlist search', () => {
  it('GET /search finds public playlists by name, tolerating typos, never private ones', async () => {
    const name = `Glacier ${unique('drive')}`;
    const open = await playlistWith('AB', alice, { name });
    await createPlaylist(bob, { name, isPublic: false });
    const search = async (q: string, session?: Session) => {
      const res = await call(t.app, 'GET', api(`/search?type=playlist&q=${encodeURIComponent(q)}`), {
        session,
      });
      expect(res.status).toBe(200);
      return res.body.playlists as { total: number; items: Array<{ id: string; isPublic: boolean }> };
    };

    const exact = await search(name.toUpperCase());
    expect(exact.total).toBe(1);
    expect(exact.items[0]).toMatchObject({
      id: open.id,
      isPublic: true,
      trackCount: 2,
      owner: { id: alice.user.id },
    });
    const typo = await search('glaciar');
    expect(typo.items.map((p) => p.id)).toContain(open.id);
    // Not even its owner finds a private playlist through search.
    expect((await search('glacier', bob)).items.every((p) => p.isPublic)).toBe(true);
    expect((await search('zzqqxx')).total).toBe(0);
  });
});

describe('export and import', () => {
  it('exports M3U8 and JSON with the visible tracks', async () => {
    const playlist = await playlistWith('CA', alice, { name: 'Trip / "best"', description: 'two' });
    const m3u = await call(t.app, 'GET', api(`/playlists/${playlist.id}/export?format=m3u8`));
    expect(m3u.status).toBe(200);
    expect(m3u.headers['content-type']).toMatch(/^audio\/x-mpegurl/);
    expect(m3u.headers['content-disposition']).toMatch(/^attachment; filename="Trip _ _best_.m3u8"/);
    const artist = (await call(t.app, 'GET', api(`/songs/${letters.C.id}`))).body.artist.name as string;
    expect(m3u.body).toBe(
      [
        '#EXTM3U',
        '#PLAYLIST:Trip / "best"',
        `#EXTINF:180,${artist} - C`,
        `/api/v1/songs/${letters.C.id}`,
        `#EXTINF:60,${artist} - A`,
        `/api/v1/songs/${letters.A.id}`,
        '',
      ].join('\n'),
    );

    const json = await call(t.app, 'GET', api(`/playlists/${playlist.id}/export?format=json`));
    expect(json.status).toBe(200);
    expect(json.body).toEqual({
      name: 'Trip / "best"',
      description: 'two',
      tracks: [
        { artist, title: 'C', album: expect.any(String), durationMs: 180_000 },
        { artist, title: 'A', album: expect.any(String), durationMs: 60_000 },
      ],
    });

    const closed = await playlistWith('A', alice, { isPublic: false });
    expect(
      (await call(t.app, 'GET', api(`/playlists/${closed.id}/export?format=json`), { session: bob })).status,
    ).toBe(404);
    expect((await call(t.app, 'GET', api(`/playlists/${playlist.id}/export`))).status).toBe(400);
    expect((await call(t.app, 'GET', api(`/playlists/${playlist.id}/export?format=pls`))).status).toBe(400);
  });

  it('imports M3U matching artist and title case- and accent-insensitively, reporting what did not match', async () => {
    const sigur = await makeArtist(t.app, admin, { name: 'Sigur Rós' });
    const sigurAlbum = await makeAlbum(t.app, admin, { artistId: sigur.id, title: 'Takk...' });
    const hoppipolla = await makeSong(t.app, admin, sigurAlbum.id, { title: 'Hoppípolla' });
    const beyonce = await makeArtist(t.app, admin, { name: 'Beyoncé' });
    const beyonceAlbum = await makeAlbum(t.app, admin, { artistId: beyonce.id });
    const halo = await makeSong(t.app, admin, beyonceAlbum.id, { title: 'Halo - Live' });
    const hiddenAlbum = await makeAlbum(t.app, admin, { artistId: beyonce.id, isPublic: false });
    await makeSong(t.app, admin, hiddenAlbum.id, { title: 'Secret Track' });

    const content = [
      '#EXTM3U',
      '#EXTINF:268,SIGUR ROS - hoppipolla',
      '/music/01.mp3',
      '#EXTINF:200,Nobody Known - Nothing At All',
      '/music/02.mp3',
      'Music/Beyonce%CC%81 - halo - live.mp3',
      '#EXTINF:100,Beyoncé - Secret Track',
      'x.mp3',
      'just-a-file.mp3',
      '#EXTINF:-1,Sigur Rós - Hoppípolla',
    ].join('\r\n');
    const res = await call(t.app, 'POST', api('/playlists/import'), {
      session: bob,
      body: { name: 'Imported', format: 'm3u', content },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(api(`/playlists/${res.body.playlist.id}`));
    expect(res.body.matched).toEqual([
      { line: 2, songId: hoppipolla.id },
      { line: 6, songId: halo.id },
      { line: 10, songId: hoppipolla.id },
    ]);
    expect(res.body.unmatched).toEqual([
      { line: 4, text: 'Nobody Known - Nothing At All' },
      { line: 7, text: 'Beyoncé - Secret Track' },
      { line: 9, text: 'just-a-file' },
    ]);
    expect(res.body.playlist).toMatchObject({
      name: 'Imported',
      isPublic: true,
      trackCount: 3,
      owner: { id: bob.user.id },
    });
    const detail = await call(t.app, 'GET', api(`/playlists/${res.body.playlist.id}`));
    expect(detail.body.tracks.map((track: { song: { id: string } }) => track.song.id)).toEqual([
      hoppipolla.id,
      halo.id,
      hoppipolla.id,
    ]);
  });

  it('reads hostile M3U lines in linear time, with a bounded number of readings each', async () => {
    const dashed = await makeArtist(t.app, admin, { name: unique('Up - Down - Left') });
    const album = await makeAlbum(t.app, admin, { artistId: dashed.id });
    const song = await makeSong(t.app, admin, album.id, { title: 'Right' });
    const content = [
      '#EXTM3U',
      // A backtracking split pattern took 37 s on this line and 77 s on the next one.
      `#EXTINF:1,a${' '.repeat(120_000)}b`,
      'one.mp3',
      `#EXTINF:1,${'x - '.repeat(4000)}y`,
      'two.mp3',
      // The third reading of this one is the right one.
      `#EXTINF:1,${dashed.name} - Right`,
      'three.mp3',
      ...Array.from({ length: 2000 }, () => '#EXTINF:1,a - b - c - d - e - f - g\nfour.mp3'),
    ].join('\n');
    const res = await call(t.app, 'POST', api('/playlists/import'), {
      session: bob,
      body: { name: 'Hostile', format: 'm3u', content },
    });
    expect(res.status).toBe(201);
    expect(res.body.matched).toEqual([{ line: 6, songId: song.id }]);
    expect(res.body.unmatched).toHaveLength(2002);
    // Long text is reported, not echoed back whole.
    expect(res.body.unmatched[0]).toEqual({ line: 2, text: `a${' '.repeat(199)}` });
    expect(res.body.unmatched[1].text).toHaveLength(200);
  });

  it('looks each import candidate up by its folded name instead of folding the catalog per batch', async () => {
    // Matching once joined the batch to every song, folding each title and artist name with
    // regular expressions: the whole catalog again for every 250 entries of an import.
    const artist = await makeArtist(t.app, admin, { name: unique('Índex Artist') });
    const album = await makeAlbum(t.app, admin, { artistId: artist.id });
    const song = await makeSong(t.app, admin, album.id, { title: 'Folded  Title' });
    const scans = async () => {
      const [row] = await rowsOf<{ scans: string | number }>(
        t.database.db,
        sql`select coalesce(sum(idx_scan), 0) as scans from pg_stat_user_indexes
          where indexrelname = 'songs_folded_match_idx'`,
      );
      return Number(row!.scans);
    };
    // Statistics reach the views when a session flushes them (PostgreSQL: within a second or so).
    const flushed = async () => {
      await t.database.db.execute(sql`select pg_stat_force_next_flush()`);
      return scans();
    };
    const before = await flushed();
    const res = await call(t.app, 'POST', api('/playlists/import'), {
      session: bob,
      body: {
        name: 'Indexed',
        format: 'm3u',
        // A full batch of candidates: the old query joined them to the catalog, folding every song.
        content: [
          `#EXTINF:1,${artist.name.replace('Í', 'i')} - folded title\nfirst.mp3`,
          ...Array.from({ length: 249 }, (_, i) => `#EXTINF:1,Nobody ${i} - Nothing ${i}\nx.mp3`),
        ].join('\n'),
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.matched).toEqual([{ line: 1, songId: song.id }]);
    expect(res.body.unmatched).toHaveLength(249);
    // One index search per candidate.
    await vi.waitFor(async () => expect(await flushed()).toBeGreaterThanOrEqual(before + 250), {
      timeout: 10_000,
      interval: 200,
    });
  });

  it('imports a JSON track list, including what the JSON export writes', async () => {
    const source = await playlistWith('EDA');
    const exported = await call(t.app, 'GET', api(`/playlists/${source.id}/export?format=json`));
    const copy = await call(t.app, 'POST', api('/playlists/import'), {
      session: bob,
      body: { name: 'Copy', isPublic: false, format: 'json', content: JSON.stringify(exported.body) },
    });
    expect(copy.status).toBe(201);
    expect(copy.body.unmatched).toEqual([]);
    expect(copy.body.playlist).toMatchObject({ isPublic: false, trackCount: 3 });
    expect(await lettersOf(copy.body.playlist.id, bob)).toBe('EDA');

    const artist = exported.body.tracks[0].artist as string;
    const list = [
      { artist: artist.toLowerCase(), title: 'b' },
      { title: 'no artist' },
      { artist, title: 'Zzz' },
    ];
    const partial = await call(t.app, 'POST', api('/playlists/import'), {
      session: bob,
      body: { name: 'Partial', format: 'json', content: JSON.stringify(list) },
    });
    expect(partial.status).toBe(201);
    expect(partial.body.matched).toEqual([{ line: 1, songId: letters.B.id }]);
    expect(partial.body.unmatched).toEqual([
      { line: 2, text: '{"title":"no artist"}' },
      { line: 3, text: `${artist} - Zzz` },
    ]);

    // A deeply nested item once overflowed the stack while its text was reported (500).
    for (const content of ['not json', '{"name": "x"}', `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`]) {
      const bad = await call(t.app, 'POST', api('/playlists/import'), {
        session: bob,
        body: { name: 'Bad', format: 'json', content },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('INVALID_IMPORT_CONTENT');
    }
    const anonymous = await call(t.app, 'POST', api('/playlists/import'), {
      body: { name: 'x', format: 'm3u', content: '#EXTM3U' },
    });
    expect(anonymous.status).toBe(401);
  });
});
