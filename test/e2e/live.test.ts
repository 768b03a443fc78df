import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connected, emitAck, openChat } from '../sockets.js';
import {
  api,
  freePort,
  type Json,
  post,
  SERVE,
  type Server,
  start,
  stop,
  useE2eDatabase,
  waitUntilUp,
} from './process.js';

const databaseUrl = useE2eDatabase('live');
const ADMIN = { email: 'live-admin@example.test', password: 'live-admin-password' };

/** Two real socket.io-client connections (WebSocket transport) to a real server process. */
describe('live chat, end to end', () => {
  let dataDir: string;
  let server: Server;
  let eventId: string;
  let host: Json;
  let fan: Json;
  const shortSongs: Json[] = [];
  const sockets: Socket[] = [];

  const call = (method: string, path: string, token?: string, body?: unknown) =>
    api(server.base, method, path, { token, body });
  const open = (token: unknown) => openChat(server.base, token, sockets);
  const emit = emitAck;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-live-'));
    server = start(SERVE, dataDir, await freePort(), {
      databaseUrl: databaseUrl(),
      env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
    });
    await waitUntilUp(server);
    const admin = (await post(server.base, '/auth/login', ADMIN)).body;
    const artist = (await call('POST', '/artists', admin.accessToken, { name: 'Live Artist' })).body;
    const album = (
      await call('POST', '/albums', admin.accessToken, {
        title: 'Live',
        genre: 'Jazz',
        releaseYear: 2020,
        artistId: artist.id,
      })
    ).body;
    const song = (
      await call('POST', `/albums/${album.id}/songs`, admin.accessToken, {
        title: 'Opener',
        durationMs: 120_000,
      })
    ).body;
    for (const [title, durationMs] of [
      ['Short one', 1500],
      ['Short two', 2000],
    ] as const) {
      shortSongs.push(
        (await call('POST', `/albums/${album.id}/songs`, admin.accessToken, { title, durationMs })).body,
      );
    }
    host = (
      await post(server.base, '/auth/register', {
        email: 'live-host@example.test',
        password: 'host-password-1',
        displayName: 'Host',
      })
    ).body;
    await call('PATCH', `/admin/users/${host.user.id}`, admin.accessToken, {
      role: 'artist',
      artistId: artist.id,
    });
    fan = (
      await post(server.base, '/auth/register', {
        email: 'live-fan@example.test',
        password: 'fan-password-1',
        displayName: 'Fan',
      })
    ).body;
    const playlist = (await call('POST', '/playlists', host.accessToken, { name: 'Set' })).body;
    await call('POST', `/playlists/${playlist.id}/tracks`, host.accessToken, { songIds: [song.id] });
    const event = await call('POST', '/events', host.accessToken, {
      title: 'Release party',
      playlistId: playlist.id,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(event.status).toBe(201);
    eventId = event.body.id;
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    if (server) await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a bad token at the handshake with the problem code', async () => {
    const error = await connected(open('not-a-token')).catch((e: Error & { data?: { code: string } }) => e);
    expect((error as Error & { data?: { code: string } }).data?.code).toBe('INVALID_TOKEN');
  });

  it('joins with history, fans out messages, rate limits, and deletes', async () => {
    const a = open(host.accessToken);
    const b = open(fan.accessToken);
    await Promise.all([connected(a), connected(b)]);
    expect(await emit(a, 'join', { eventId })).toMatchObject({ ok: true, history: [] });
    expect((await emit(a, 'message', { eventId, text: 'welcome' })).ok).toBe(true);
    const joined = await emit(b, 'join', { eventId });
    expect(joined.history.map((m: Json) => m.text)).toEqual(['welcome']);
    expect(joined.event.listenerCount).toBe(2);

    const arrived = new Promise<Json>((resolve) => a.once('message', resolve));
    const sent = await emit(b, 'message', { eventId, text: 'hello from the fan' });
    expect(sent).toMatchObject({ ok: true, message: { user: { displayName: 'Fan' } } });
    expect(await arrived).toEqual(sent.message);

    const results = [];
    for (let i = 0; i < 5; i++) results.push(await emit(b, 'message', { eventId, text: `more ${i}` }));
    expect(results.at(-1)).toMatchObject({ ok: false, code: 'RATE_LIMITED' });

    const gone = new Promise<Json>((resolve) => b.once('message_deleted', resolve));
    const removed = await call('DELETE', `/events/${eventId}/messages/${sent.message.id}`, host.accessToken);
    expect(removed.status).toBe(204);
    expect(await gone).toEqual({ id: sent.message.id });
  });

  it("pushes nowPlaying at each track change, as the server's clock decides, then ends the event", async () => {
    const playlist = (await call('POST', '/playlists', host.accessToken, { name: 'Short set' })).body;
    await call('POST', `/playlists/${playlist.id}/tracks`, host.accessToken, {
      songIds: shortSongs.map((s) => s.id),
    });
    const created = await call('POST', '/events', host.accessToken, {
      title: 'Quick listen',
      playlistId: playlist.id,
      startsAt: new Date(Date.now() + 3000).toISOString(),
    });
    expect(created.status).toBe(201);
    const socket = open(fan.accessToken);
    await connected(socket);
    const pushes: Json[] = [];
    socket.on('nowPlaying', (nowPlaying: Json) => pushes.push(nowPlaying));
    const disconnects: string[] = [];
    socket.on('disconnect', (reason) => disconnects.push(reason));
    const ended = new Promise<Json>((resolve, reject) => {
      // Well inside the test's own timeout, so a failure says what the socket and server saw.
      const timer = setTimeout(async () => {
        const event = (await call('GET', `/events/${created.body.id}`)).body;
        reject(
          new Error(
            `no event_ended within 20 s; event ${event.status}, pushes ${JSON.stringify(pushes)}, ` +
              `disconnects ${JSON.stringify(disconnects)}, server output:\n${server.output()}`,
          ),
        );
      }, 20_000);
      socket.once('event_ended', (payload: Json) => {
        clearTimeout(timer);
        resolve(payload);
      });
    });
    expect(await emit(socket, 'join', { eventId: created.body.id })).toMatchObject({ ok: true });
    // Goes live 3 s from now (within the job queue's poll, 1 s), plays 1.5 s + 2 s, ends.
    expect(await ended).toEqual({ id: created.body.id, status: 'ended' });
    expect(disconnects).toEqual([]);
    // Each change once: the two songs, then nothing (the last track's end and the event's end
    // are one change).
    expect(pushes.map((p) => p?.song.title ?? null)).toEqual(['Short one', 'Short two', null]);
    const [first, second] = pushes;
    expect(Date.parse(second.startedAt) - Date.parse(first.startedAt)).toBe(1500);
    // Pushed at the change, not later: the position is a few milliseconds into the song.
    expect(second.positionMs).toBeLessThan(1500);
    const event = (await call('GET', `/events/${created.body.id}`)).body;
    expect(event).toMatchObject({ status: 'ended', nowPlaying: null });
  }, 30_000);
});
