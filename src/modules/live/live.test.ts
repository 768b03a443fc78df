import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong } from '../../../test/factories.js';
import {
  buildTestApp,
  call,
  createAdmin,
  register,
  type Session,
  type TestApp,
} from '../../../test/helpers.js';
import { connected, emitAck, openChat } from '../../../test/sockets.js';
import { openStream } from '../../../test/sse.js';
import { outboxEvents } from '../../platform/events.js';
import { jobs } from '../../platform/jobs.js';
import { positionAt } from './live.service.js';

/**
 * Listening events through HTTP and socket.io on a real database, with a clock the test moves:
 * the scheduler's transitions happen when the test says, without waiting for minutes.
 */
let t: TestApp;
let admin: Session;
let host: Session;
let follower: Session;
let listener: Session;
let artistId: string;
let playlistId: string;
let url: string;
let now = Date.parse('2030-01-01T12:00:00.000Z');
const clock = () => new Date(now);
const DURATIONS = [60_000, 90_000, 30_000];

const api = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
  path: string,
  session?: Session,
  body?: unknown,
) => call(t.app, method, `/api/v1${path}`, { session, body });
const inMinutes = (minutes: number) => new Date(now + minutes * 60_000).toISOString();

/** Runs the live jobs that are due at the test's time. */
async function runDueJobs(): Promise<void> {
  await t.app.services.jobs.idle(['live.start', 'live.end']);
}

async function createEvent(overrides: Record<string, unknown> = {}, session = host) {
  const res = await api('POST', '/events', session, {
    title: 'Listening party',
    playlistId,
    startsAt: inMinutes(10),
    ...overrides,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

beforeAll(async () => {
  // The tests move the clock by minutes to hours: the access tokens of the set-up outlive them.
  t = await buildTestApp(
    { ACCESS_TOKEN_TTL: '7d' },
    { clock, liveChatLimits: { idleTimeoutMs: 5000, sessionCheckMs: 60_000 } },
  );
  admin = await createAdmin(t.app);
  const artist = await makeArtist(t.app, admin);
  artistId = artist.id;
  host = await makeArtistAccount(t.app, admin, artistId);
  const album = await makeAlbum(t.app, admin, { artistId });
  const songs = [];
  for (const durationMs of DURATIONS) songs.push(await makeSong(t.app, admin, album.id, { durationMs }));
  const playlist = await api('POST', '/playlists', host, { name: 'Set list' });
  playlistId = playlist.body.id;
  await api('POST', `/playlists/${playlistId}/tracks`, host, { songIds: songs.map((s) => s.id) });
  follower = await register(t.app, { displayName: 'Follower' });
  listener = await register(t.app, { displayName: 'Listener' });
  expect((await api('PUT', `/me/following/artists/${artistId}`, follower)).status).toBe(204);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

describe('events over HTTP', () => {
  it('creates, reads, lists, changes and cancels an event', async () => {
    const event = await createEvent({ description: 'Front to back' });
    expect(event).toMatchObject({
      title: 'Listening party',
      description: 'Front to back',
      host: { id: artistId },
      playlist: { id: playlistId, name: 'Set list' },
      status: 'scheduled',
      nowPlaying: null,
      listenerCount: 0,
    });
    expect((await api('GET', `/events/${event.id}`)).body).toMatchObject({
      id: event.id,
      status: 'scheduled',
    });
    const page = await api('GET', `/events?artistId=${artistId}&status=scheduled&limit=1`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ limit: 1, offset: 0, previous: null });
    expect(page.body.total).toBeGreaterThanOrEqual(1);

    const changed = await api('PATCH', `/events/${event.id}`, host, {
      title: 'Renamed',
      startsAt: inMinutes(20),
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ title: 'Renamed', startsAt: inMinutes(20) });

    expect((await api('DELETE', `/events/${event.id}`, host)).status).toBe(204);
    expect((await api('GET', `/events/${event.id}`)).body.status).toBe('cancelled');
    const late = await api('PATCH', `/events/${event.id}`, host, { title: 'Too late' });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('EVENT_STARTED');
  });

  it('answers bad input with problems', async () => {
    const past = await api('POST', '/events', host, { title: 'x', playlistId, startsAt: inMinutes(-1) });
    expect([past.status, past.body.code]).toEqual([400, 'STARTS_AT_IN_PAST']);

    const other = await register(t.app);
    const secret = await api('POST', '/playlists', other, { name: 'Mine', isPublic: false });
    const hidden = await api('POST', '/events', host, {
      title: 'x',
      playlistId: secret.body.id,
      startsAt: inMinutes(5),
    });
    expect([hidden.status, hidden.body.code]).toEqual([400, 'UNKNOWN_PLAYLIST']);

    const elsewhere = await makeArtist(t.app, admin);
    const foreign = await api('POST', '/events', host, {
      title: 'x',
      playlistId,
      startsAt: inMinutes(5),
      artistId: elsewhere.id,
    });
    expect([foreign.status, foreign.body.code]).toEqual([403, 'NOT_EVENT_HOST']);
    expect(
      (await api('POST', '/events', listener, { title: 'x', playlistId, startsAt: inMinutes(5) })).status,
    ).toBe(403);
    expect(
      (await api('POST', '/events', undefined, { title: 'x', playlistId, startsAt: inMinutes(5) })).status,
    ).toBe(401);

    const noArtist = await api('POST', '/events', admin, { title: 'x', playlistId, startsAt: inMinutes(5) });
    expect([noArtist.status, noArtist.body.code]).toEqual([400, 'ARTIST_REQUIRED']);
    const byAdmin = await api('POST', '/events', admin, {
      title: 'x',
      playlistId,
      startsAt: inMinutes(5),
      artistId,
    });
    expect(byAdmin.status).toBe(201);

    const extra = await api('POST', '/events', host, {
      title: 'x',
      playlistId,
      startsAt: inMinutes(5),
      colour: 1,
    });
    expect(extra.status).toBe(400);
    const empty = await api('POST', '/events', host, { title: '', playlistId, startsAt: inMinutes(5) });
    expect(empty.status).toBe(400);
    expect((await api('GET', '/events/0190a0a0-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await api('GET', '/events/not-an-id')).status).toBe(400);
    expect((await api('GET', '/events?status=party')).status).toBe(400);

    // Someone else's event: 403 for another artist's account.
    const rival = await makeArtistAccount(t.app, admin, elsewhere.id);
    expect((await api('PATCH', `/events/${byAdmin.body.id}`, rival, { title: 'mine' })).status).toBe(403);
    expect((await api('DELETE', `/events/${byAdmin.body.id}`, rival)).status).toBe(403);
  });
});

describe('the scheduler', () => {
  it('takes an event live at its start, plays the programme and ends it after the last track', async () => {
    const event = await createEvent({ startsAt: inMinutes(1) });
    const stream = await openStream(url, follower);
    expect(stream.response.status).toBe(200);
    await runDueJobs();
    expect((await api('GET', `/events/${event.id}`)).body.status).toBe('scheduled');

    now += 60_000;
    await runDueJobs();
    // The follower's open notification stream hears of it too.
    const pushed = await stream.next(
      (e) => e.event === 'notification' && JSON.parse(e.data ?? '{}').type === 'event.started',
      10_000,
    );
    stream.close();
    expect(JSON.parse(pushed.data!)).toMatchObject({
      type: 'event.started',
      event: { id: event.id, title: 'Listening party' },
      artist: { id: artistId },
    });
    const live = (await api('GET', `/events/${event.id}`)).body;
    expect(live.status).toBe('live');
    expect(live.nowPlaying).toMatchObject({ positionMs: 0, startedAt: new Date(now).toISOString() });
    expect(live.nowPlaying.song.durationMs).toBe(60_000);
    const late = await api('PATCH', `/events/${event.id}`, host, { title: 'Too late' });
    expect(late.status).toBe(409);

    // 70 s in: 10 s into the second track, which started at 60 s.
    const start = now;
    now += 70_000;
    const second = (await api('GET', `/events/${event.id}`)).body.nowPlaying;
    expect(second.positionMs).toBe(10_000);
    expect(second.startedAt).toBe(new Date(start + 60_000).toISOString());
    expect(second.song.durationMs).toBe(90_000);

    // The followers hear of it, in the feed.
    const feed = (await api('GET', '/me/notifications', follower)).body;
    const started = feed.items.filter((n: { type: string }) => n.type === 'event.started');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      event: { id: event.id, title: 'Listening party' },
      artist: { id: artistId },
      album: null,
      song: null,
      createdAt: new Date(start).toISOString(),
    });
    expect((await api('GET', '/me/notifications', listener)).body.items).toHaveLength(0);
    expect((await api('POST', '/me/notifications/read', follower, { ids: [started[0].id] })).status).toBe(
      204,
    );
    expect((await api('GET', '/me/notifications?unreadOnly=true', follower)).body.unreadCount).toBe(
      feed.unreadCount - 1,
    );

    now = start + DURATIONS.reduce((a, b) => a + b, 0);
    await runDueJobs();
    const ended = (await api('GET', `/events/${event.id}`)).body;
    expect(ended).toMatchObject({ status: 'ended', nowPlaying: null });
  });

  it('moves an event exactly once, however many workers race for it and after a restart', async () => {
    const event = await createEvent({ startsAt: inMinutes(1) });
    now += 60_000;
    const { live } = t.app.services;
    await Promise.all([live.goLive(event.id), live.goLive(event.id), live.goLive(event.id)]);
    // A restarted worker runs the start job again: nothing happens twice.
    await runDueJobs();
    await live.goLive(event.id);
    const { db } = t.database;
    const started = await db.select().from(outboxEvents).where(eq(outboxEvents.type, 'live.event_started'));
    expect(started.filter((row) => (row.payload as { eventId: string }).eventId === event.id)).toHaveLength(
      1,
    );
    const endJobs = await db
      .select()
      .from(jobs)
      .where(and(eq(jobs.type, 'live.end'), eq(jobs.uniqueKey, `live:end:${event.id}`)));
    expect(endJobs).toHaveLength(1);
    const feed = (await api('GET', '/me/notifications', follower)).body;
    expect(feed.items.filter((n: { event: { id: string } | null }) => n.event?.id === event.id)).toHaveLength(
      1,
    );

    now += DURATIONS.reduce((a, b) => a + b, 0);
    await Promise.all([live.end(event.id), live.end(event.id)]);
    const ended = await db.select().from(outboxEvents).where(eq(outboxEvents.type, 'live.event_ended'));
    expect(ended.filter((row) => (row.payload as { eventId: string }).eventId === event.id)).toHaveLength(1);
    await runDueJobs();
  });

  it('cancels, at its start, an event whose playlist was emptied or deleted', async () => {
    const spare = await api('POST', '/playlists', host, { name: 'Spare' });
    const gone = await createEvent({ playlistId: spare.body.id, startsAt: inMinutes(1) });
    const empty = await api('POST', '/playlists', host, { name: 'Empty' });
    const hollow = await createEvent({ playlistId: empty.body.id, startsAt: inMinutes(1) });
    expect((await api('DELETE', `/playlists/${spare.body.id}`, host)).status).toBe(204);
    expect((await api('GET', `/events/${gone.id}`)).body.playlist).toBeNull();
    now += 60_000;
    await runDueJobs();
    expect((await api('GET', `/events/${gone.id}`)).body.status).toBe('cancelled');
    expect((await api('GET', `/events/${hollow.id}`)).body.status).toBe('cancelled');
    const feed = (await api('GET', '/me/notifications', follower)).body;
    expect(
      feed.items.some((n: { event: { id: string } | null }) =>
        [gone.id, hollow.id].includes(n.event?.id ?? ''),
      ),
    ).toBe(false);
  });

  it('never plays, nor names, a private playlist the host artist cannot see', async () => {
    const owner = await register(t.app);
    const songs = (await api('GET', `/playlists/${playlistId}`, host)).body.tracks.map(
      (track: { song: { id: string } }) => track.song.id,
    );
    const withSongs = async (session: Session, isPublic: boolean) => {
      const made = await api('POST', '/playlists', session, { name: 'Not the host’s', isPublic });
      expect(
        (await api('POST', `/playlists/${made.body.id}/tracks`, session, { songIds: songs })).status,
      ).toBe(200);
      return made.body.id as string;
    };
    // An admin scheduling for the artist sees every playlist; the host does not.
    for (const secret of [await withSongs(owner, false), await withSongs(admin, false)]) {
      const res = await api('POST', '/events', admin, {
        title: 'x',
        playlistId: secret,
        startsAt: inMinutes(5),
        artistId,
      });
      expect([res.status, res.body.code]).toEqual([400, 'UNKNOWN_PLAYLIST']);
      const scheduled = await createEvent({ startsAt: inMinutes(5) });
      const moved = await api('PATCH', `/events/${scheduled.id}`, admin, { playlistId: secret });
      expect([moved.status, moved.body.code]).toEqual([400, 'UNKNOWN_PLAYLIST']);
      expect((await api('DELETE', `/events/${scheduled.id}`, host)).status).toBe(204);
    }
    // The host's own private playlist is theirs to play.
    const own = await withSongs(host, false);
    expect((await createEvent({ playlistId: own, startsAt: inMinutes(30) })).playlist).toMatchObject({
      id: own,
    });

    // A public playlist its owner makes private before the start: no longer named, and not played.
    const turned = await withSongs(owner, true);
    const event = await createEvent({ playlistId: turned, startsAt: inMinutes(1) });
    expect(event.playlist).toMatchObject({ id: turned });
    expect((await api('PATCH', `/playlists/${turned}`, owner, { isPublic: false })).status).toBe(200);
    expect((await api('GET', `/events/${event.id}`)).body.playlist).toBeNull();
    now += 60_000;
    await runDueJobs();
    expect((await api('GET', `/events/${event.id}`)).body).toMatchObject({
      status: 'cancelled',
      nowPlaying: null,
    });
    const feed = (await api('GET', '/me/notifications', follower)).body;
    expect(feed.items.some((n: { event: { id: string } | null }) => n.event?.id === event.id)).toBe(false);
  });

  it('computes positions from the start and the durations', () => {
    const programme = DURATIONS.map((durationMs, i) => ({ songId: `s${i}`, durationMs }));
    const start = new Date(0);
    expect(positionAt(programme, start, new Date(-1))).toBeNull();
    expect(positionAt(programme, start, new Date(0))).toEqual({ index: 0, positionMs: 0, startedAtMs: 0 });
    expect(positionAt(programme, start, new Date(59_999))).toEqual({
      index: 0,
      positionMs: 59_999,
      startedAtMs: 0,
    });
    expect(positionAt(programme, start, new Date(60_000))).toEqual({
      index: 1,
      positionMs: 0,
      startedAtMs: 60_000,
    });
    expect(positionAt(programme, start, new Date(179_999))).toEqual({
      index: 2,
      positionMs: 29_999,
      startedAtMs: 150_000,
    });
    expect(positionAt(programme, start, new Date(180_000))).toBeNull();
  });
});

describe('the chat', () => {
  const sockets: Socket[] = [];
  afterAll(() => {
    for (const socket of sockets) socket.disconnect();
  });

  function open(session: Session | { token: unknown }): Socket {
    const token = 'accessToken' in session ? session.accessToken : session.token;
    return openChat(url, token, sockets);
  }
  const emit = emitAck;
  const next = <T>(socket: Socket, name: string) => new Promise<T>((resolve) => socket.once(name, resolve));

  it("gives socket.io's own HTTP answers an X-Request-Id, echoing a safe one", async () => {
    const polling = `${url}/socket.io/?EIO=4&transport=polling`;
    const fresh = await fetch(polling);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await fresh.text();
    const echoed = await fetch(polling, { headers: { 'x-request-id': 'chat-poll.1' } });
    expect(echoed.headers.get('x-request-id')).toBe('chat-poll.1');
    await echoed.text();
  });

  it('refuses a missing or bad token with the problem code', async () => {
    for (const [auth, code] of [
      [{ token: undefined }, 'UNAUTHORIZED'],
      [{ token: 'nonsense' }, 'INVALID_TOKEN'],
      [{ token: 42 }, 'UNAUTHORIZED'],
    ] as const) {
      const error = await connected(open(auth)).then(
        () => undefined,
        (e: Error & { data?: { code: string } }) => e,
      );
      expect(error?.data?.code).toBe(code);
    }
  });

  it('joins with history, fans messages out, limits them, and lets the host delete one', async () => {
    const event = await createEvent({ startsAt: inMinutes(30) });
    const alice = open(follower);
    const bob = open(listener);
    await Promise.all([connected(alice), connected(bob)]);

    const joined = await emit(alice, 'join', { eventId: event.id });
    expect(joined).toMatchObject({ ok: true, event: { id: event.id, listenerCount: 1 }, history: [] });
    const hello = await emit(alice, 'message', { eventId: event.id, text: '  hello  ' });
    expect(hello).toMatchObject({ ok: true, message: { text: 'hello', user: { displayName: 'Follower' } } });

    const second = await emit(bob, 'join', { eventId: event.id });
    expect(second.event.listenerCount).toBe(2);
    expect(second.history.map((m: { text: string }) => m.text)).toEqual(['hello']);

    const received = next<{ text: string }>(alice, 'message');
    expect((await emit(bob, 'message', { eventId: event.id, text: 'hi all' })).ok).toBe(true);
    expect((await received).text).toBe('hi all');

    for (const [text, code] of [
      ['   ', 'INVALID_MESSAGE'],
      ['x'.repeat(501), 'INVALID_MESSAGE'],
      ['bell\u0007', 'INVALID_MESSAGE'],
      [42, 'VALIDATION_FAILED'],
    ] as const) {
      expect(await emit(bob, 'message', { eventId: event.id, text })).toEqual(
        expect.objectContaining({ ok: false, code }),
      );
    }
    // 5 per 10 s per user: bob has posted once.
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(await emit(bob, 'message', { eventId: event.id, text: `spam ${i}` }));
    expect(answers.map((a) => a.ok)).toEqual([true, true, true, true, false]);
    expect(answers[4]!.code).toBe('RATE_LIMITED');

    const deleted = next<{ id: string }>(bob, 'message_deleted');
    expect((await api('DELETE', `/events/${event.id}/messages/${hello.message.id}`, listener)).status).toBe(
      403,
    );
    expect((await api('DELETE', `/events/${event.id}/messages/${hello.message.id}`, host)).status).toBe(204);
    expect(await deleted).toEqual({ id: hello.message.id });
    expect((await api('DELETE', `/events/${event.id}/messages/${hello.message.id}`, host)).status).toBe(404);

    const history = await api('GET', `/events/${event.id}/messages?limit=2`, listener);
    expect(history.status).toBe(200);
    expect(history.body.items.map((m: { text: string }) => m.text)).toEqual(['spam 3', 'spam 2']);
    const rest = await api(
      'GET',
      `/events/${event.id}/messages?limit=100&cursor=${history.body.nextCursor}`,
      listener,
    );
    expect(rest.body.items.map((m: { text: string }) => m.text)).toEqual(['spam 1', 'spam 0', 'hi all']);
    expect(rest.body.nextCursor).toBeNull();
    expect((await api('GET', `/events/${event.id}/messages?cursor=bad`, listener)).status).toBe(400);

    expect(await emit(alice, 'leave', { eventId: event.id })).toEqual({ ok: true });
    expect((await api('GET', `/events/${event.id}`)).body.listenerCount).toBe(1);
  });

  it("opens a user's message window again once 10 s have passed on the clock", async () => {
    const event = await createEvent({ startsAt: inMinutes(30) });
    const poster = await register(t.app);
    const socket = open(poster);
    await connected(socket);
    expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);
    const post = async (text: string) => (await emit(socket, 'message', { eventId: event.id, text })).ok;
    for (let i = 0; i < 5; i++) expect(await post(`in the window ${i}`)).toBe(true);
    expect(await post('one too many')).toBe(false);
    now += 9_999;
    expect(await post('still too soon')).toBe(false);
    now += 1;
    expect(await post('a new window')).toBe(true);
  });

  it("counts a burst of one user's messages from several sockets against one window", async () => {
    const event = await createEvent({ startsAt: inMinutes(30) });
    const poster = await register(t.app);
    const pair = [open(poster), open(poster)];
    await Promise.all(pair.map(connected));
    for (const socket of pair) expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        emit(pair[i % 2]!, 'message', { eventId: event.id, text: `burst ${i}` }),
      ),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(5);
    expect(answers.filter((a) => a.code === 'RATE_LIMITED')).toHaveLength(7);
    const history = await api('GET', `/events/${event.id}/messages?limit=100`, poster);
    expect(history.body.items).toHaveLength(5);
  });

  it('survives garbage payloads and refuses what it must', async () => {
    const event = await createEvent({ startsAt: inMinutes(30) });
    const socket = open(listener);
    await connected(socket);
    expect(await emit(socket, 'join', 'nonsense')).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(await emit(socket, 'join', null)).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(await emit(socket, 'join', { eventId: 'x'.repeat(10_000) })).toMatchObject({ ok: false });
    expect(await emit(socket, 'join', { eventId: '0190a0a0-0000-7000-8000-000000000000' })).toMatchObject({
      ok: false,
      code: 'EVENT_NOT_FOUND',
    });
    expect(await emit(socket, 'message', { eventId: event.id, text: 'not joined' })).toMatchObject({
      ok: false,
      code: 'NOT_JOINED',
    });
    // No ack callback, odd argument lists: nothing answers, nothing breaks.
    socket.emit('join', { eventId: event.id });
    socket.emit('message');
    socket.emit('leave', 1, 2, 3);
    const cancelled = await createEvent({ startsAt: inMinutes(30) });
    await api('DELETE', `/events/${cancelled.id}`, host);
    expect(await emit(socket, 'join', { eventId: cancelled.id })).toMatchObject({
      ok: false,
      code: 'CHAT_CLOSED',
    });
    expect(socket.connected).toBe(true);
  });

  it('limits joins per socket and disconnects a socket that never joins', async () => {
    const socket = open(listener);
    await connected(socket);
    const events = [];
    for (let i = 0; i < 6; i++) events.push(await createEvent({ startsAt: inMinutes(30) }));
    const answers = [];
    for (const event of events) answers.push(await emit(socket, 'join', { eventId: event.id }));
    expect(answers.map((a) => a.ok)).toEqual([true, true, true, true, true, false]);
    expect(answers[5]!.code).toBe('TOO_MANY_EVENTS');

    const idle = open(listener);
    await connected(idle);
    expect(await next<string>(idle, 'disconnect')).toBe('io server disconnect');
  });

  it("refuses a flood of one user's connections, and takes a new one when one closes", async () => {
    const crowd = await register(t.app);
    const mine = Array.from({ length: 20 }, () => open(crowd));
    await Promise.all(mine.map(connected));
    const refused = await connected(open(crowd)).catch(
      (e: Error & { data?: { code: string; status: number } }) => e,
    );
    expect((refused as Error & { data?: { code: string; status: number } }).data).toMatchObject({
      code: 'TOO_MANY_CONNECTIONS',
      status: 429,
    });
    // Someone else is not affected, and a closed socket frees its place.
    await connected(open(listener));
    const closed = next<string>(mine[0]!, 'disconnect');
    mine[0]!.disconnect();
    await closed;
    await expect
      .poll(async () =>
        connected(open(crowd)).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    for (const socket of mine) socket.disconnect();
  });

  it('disconnects the sockets of a session that ended or a user who was blocked, at once', async () => {
    const gone = await register(t.app);
    const blocked = await register(t.app);
    const changer = await register(t.app, { password: 'first-password-1' });
    const other = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: changer.user.email, password: 'first-password-1' },
    });
    expect(other.status).toBe(200);
    const event = await createEvent({ startsAt: inMinutes(30) });
    const first = open(gone);
    const second = open(blocked);
    const elsewhere = open({ token: other.body.accessToken });
    const kept = open(changer);
    const sockets = [first, second, elsewhere, kept];
    await Promise.all(sockets.map(connected));
    for (const socket of sockets) expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);
    const firstGone = next<string>(first, 'disconnect');
    const secondGone = next<string>(second, 'disconnect');
    const elsewhereGone = next<string>(elsewhere, 'disconnect');
    // No periodic check runs here (sessionCheckMs is a minute): the session's end itself does it.
    expect((await api('POST', '/auth/logout', gone, { refreshToken: gone.refreshToken })).status).toBe(204);
    expect((await api('PATCH', `/admin/users/${blocked.user.id}`, admin, { blocked: true })).status).toBe(
      200,
    );
    const changed = await api('PATCH', '/me', changer, {
      currentPassword: 'first-password-1',
      newPassword: 'second-password-2',
    });
    expect(changed.status).toBe(200);
    expect(await firstGone).toBe('io server disconnect');
    expect(await secondGone).toBe('io server disconnect');
    expect(await elsewhereGone).toBe('io server disconnect');
    // The session that changed the password goes on.
    expect((await emit(kept, 'message', { eventId: event.id, text: 'still here' })).ok).toBe(true);
    expect(kept.connected).toBe(true);
    const refused = await connected(open(blocked)).catch((e: Error & { data?: { code: string } }) => e);
    expect((refused as Error & { data?: { code: string } }).data?.code).toBe('ACCOUNT_BLOCKED');
  });

  it('pushes nowPlaying to the room when the event goes live, and closes the room when it ends', async () => {
    type NowPlaying = { song: { durationMs: number }; positionMs: number; startedAt: string } | null;
    const event = await createEvent({ startsAt: inMinutes(1) });
    const socket = open(listener);
    await connected(socket);
    expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);

    const first = next<NowPlaying>(socket, 'nowPlaying');
    now += 60_000;
    const start = now;
    await runDueJobs();
    expect(await first).toMatchObject({
      song: { durationMs: DURATIONS[0] },
      positionMs: 0,
      startedAt: new Date(start).toISOString(),
    });

    // A listener who joins later, in the second track, hears what plays now from the server.
    now = start + 70_000;
    const late = open(follower);
    await connected(late);
    expect((await emit(late, 'join', { eventId: event.id })).event).toMatchObject({ status: 'live' });

    const stopped = next<NowPlaying>(socket, 'nowPlaying');
    const ended = next<{ id: string; status: string }>(socket, 'event_ended');
    now = start + DURATIONS.reduce((a, b) => a + b, 0);
    await runDueJobs();
    expect(await stopped).toBeNull();
    expect(await ended).toEqual({ id: event.id, status: 'ended' });
    // The chat is closed: the listeners were taken out of the room.
    expect(await emit(socket, 'message', { eventId: event.id, text: 'too late' })).toMatchObject({
      ok: false,
      code: 'NOT_JOINED',
    });
    expect(await emit(late, 'join', { eventId: event.id })).toMatchObject({ ok: false, code: 'CHAT_CLOSED' });
  });

  it('tells a listener who joins an event already live what plays now', async () => {
    const event = await createEvent({ startsAt: inMinutes(1) });
    now += 60_000;
    const start = now;
    await runDueJobs();
    expect((await api('GET', `/events/${event.id}`)).body.status).toBe('live');

    now = start + 70_000;
    const socket = open(listener);
    await connected(socket);
    const playing = next<{ song: { durationMs: number }; positionMs: number; startedAt: string }>(
      socket,
      'nowPlaying',
    );
    expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);
    expect(await playing).toMatchObject({
      song: { durationMs: DURATIONS[1] },
      positionMs: 10_000,
      startedAt: new Date(start + 60_000).toISOString(),
    });
    await emit(socket, 'leave', { eventId: event.id });
    now = start + DURATIONS.reduce((a, b) => a + b, 0);
    await runDueJobs();
  });

  // Last: it moves the clock past every access token issued so far.
  it('disconnects a socket once the access token it connected with expires on the clock', async () => {
    const session = await register(t.app);
    const event = await createEvent({ startsAt: inMinutes(30) });
    const socket = open(session);
    await connected(socket);
    const gone = next<string>(socket, 'disconnect');
    const { exp } = JSON.parse(Buffer.from(session.accessToken.split('.')[1]!, 'base64url').toString());
    now = exp * 1000 - 1;
    await t.app.services.chat!.checkSessions();
    expect((await emit(socket, 'join', { eventId: event.id })).ok).toBe(true);
    now = exp * 1000;
    await t.app.services.chat!.checkSessions();
    expect(await gone).toBe('io server disconnect');
  });
});
