import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveTag } from '../../src/platform/gateway-trust.js';
import { connected, emitAck, openChat } from '../sockets.js';
import { api, createRun, getJson, type Json, ready, type Server } from './cluster.js';

/**
 * The live chat behind the gateway: two `live` processes with the socket.io Redis adapter, one
 * process for the REST roles (and the worker), and the gateway in front. Clients connect to the
 * gateway only; its WebSocket passthrough and its sticky long-polling are what is under test.
 */
const run = createRun('live');
const ADMIN = run.admin;
const RUN = ADMIN.email.split('@')[0];
const REST_ROLES = 'identity,catalog,library';

let core: Server;
let live1: Server;
let live2: Server;
let gateway: Server;
let host: Json;
let fan: Json;
let eventId: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  await run.createDatabase();
  core = await run.start('core', {
    SERVICES: `${REST_ROLES},worker`,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  await ready(core);
  [live1, live2] = await Promise.all([
    run.start('live1', { SERVICES: 'live' }),
    run.start('live2', { SERVICES: 'live' }),
  ]);
  await Promise.all([ready(live1), ready(live2)]);
  const upstreams = [
    ...REST_ROLES.split(',').map((role) => `${role}=${core.base}`),
    `live=${live1.base} ${live2.base}`,
  ].join(',');
  gateway = await run.start('gateway', { SERVICES: 'gateway', GATEWAY_UPSTREAMS: upstreams });
  await ready(gateway, '/health/services');

  const admin = (await api(gateway.base, 'POST', '/auth/login', { body: ADMIN })).body;
  const artist = await api(gateway.base, 'POST', '/artists', {
    token: admin.accessToken,
    body: { name: `Live band ${RUN}` },
  });
  const album = await api(gateway.base, 'POST', '/albums', {
    token: admin.accessToken,
    body: { title: 'Live', genre: 'Jazz', releaseYear: 2020, artistId: artist.body.id },
  });
  const song = await api(gateway.base, 'POST', `/albums/${album.body.id}/songs`, {
    token: admin.accessToken,
    body: { title: 'Opener', durationMs: 120_000 },
  });
  expect(song.status).toBe(201);
  const register = async (name: string) => {
    const res = await api(gateway.base, 'POST', '/auth/register', {
      body: { email: `${name}-${RUN}@example.test`, password: `${name}-password-1`, displayName: name },
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  host = await register('host');
  fan = await register('fan');
  const promoted = await api(gateway.base, 'PATCH', `/admin/users/${host.user.id}`, {
    token: admin.accessToken,
    body: { role: 'artist', artistId: artist.body.id },
  });
  expect(promoted.status).toBeLessThan(300);
  const playlist = await api(gateway.base, 'POST', '/playlists', {
    token: host.accessToken,
    body: { name: 'Set' },
  });
  await api(gateway.base, 'POST', `/playlists/${playlist.body.id}/tracks`, {
    token: host.accessToken,
    body: { songIds: [song.body.id] },
  });
  // Created through the gateway, so the live role's REST routes are routed too.
  const event = await api(gateway.base, 'POST', '/events', {
    token: host.accessToken,
    body: {
      title: 'Release party',
      playlistId: playlist.body.id,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  expect(event.status).toBe(201);
  eventId = event.body.id;
});

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await run.cleanup();
});

type Transport = 'websocket' | 'polling';

const open = (token: unknown, transports: Transport[]): Socket =>
  openChat(gateway.base, token, sockets, transports);
const emit = emitAck;

/** Which live process holds the socket's session: the gateway's tag leads its engine.io id. */
function processOf(socket: Socket): string {
  const sid = socket.io.engine.id;
  const tags = { [liveTag(live1.base)]: 'live1', [liveTag(live2.base)]: 'live2' };
  return tags[sid.split('.', 1)[0]!] ?? `untagged (${sid})`;
}

/** Resolves once the socket's session runs over WebSocket (at once when it started there). */
function upgraded(socket: Socket): Promise<void> {
  if (socket.io.engine.transport.name === 'websocket') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no upgrade to WebSocket within 10 s')), 10_000);
    socket.io.engine.once('upgrade', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function nextMessage(socket: Socket): Promise<Json> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 10 s')), 10_000);
    socket.once('message', (message: Json) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

describe('scale-out: live chat through the gateway, two live processes', () => {
  it('lists both live processes as healthy', async () => {
    const services = await getJson(`${gateway.base}/health/services`);
    expect(services.services.live.map((u: Json) => u.status)).toEqual(['ok', 'ok']);
  });

  it.each<[string, Transport[]]>([
    ['WebSocket', ['websocket']],
    ['long-polling', ['polling']],
    ['long-polling upgraded to WebSocket', ['polling', 'websocket']],
  ])('fans a message out across processes (%s)', async (_name, transports) => {
    // One after the other, so round robin puts them on different processes.
    const a = open(host.accessToken, transports);
    await connected(a);
    const b = open(fan.accessToken, transports);
    await connected(b);
    expect(new Set([processOf(a), processOf(b)])).toEqual(new Set(['live1', 'live2']));

    expect(await emit(a, 'join', { eventId })).toMatchObject({ ok: true });
    expect(await emit(b, 'join', { eventId })).toMatchObject({ ok: true });
    const atA = nextMessage(a);
    const atB = nextMessage(b);
    const text = `hello over ${transports.join('+')}`;
    const sent = await emit(b, 'message', { eventId, text });
    expect(sent).toMatchObject({ ok: true, message: { text, user: { id: fan.user.id } } });
    expect(await atA).toEqual(sent.message);
    expect(await atB).toEqual(sent.message);
    // Several more requests of each session (polling: one HTTP request each way) stay on their process.
    expect(await emit(a, 'leave', { eventId })).toEqual({ ok: true });
    expect(await emit(b, 'leave', { eventId })).toEqual({ ok: true });
    expect(a.connected && b.connected).toBe(true);
    if (transports.includes('websocket')) {
      await Promise.all([upgraded(a), upgraded(b)]);
      expect([processOf(a), processOf(b)].sort()).toEqual(['live1', 'live2']);
    }
    a.disconnect();
    b.disconnect();
  });

  it.each<[string, Transport[]]>([
    ['WebSocket', ['websocket']],
    ['long-polling', ['polling']],
  ])('refuses a bad token with connect_error (%s)', async (_name, transports) => {
    const error = await connected(open('not-a-token', transports)).catch(
      (e: Error & { data?: { code: string } }) => e,
    );
    expect((error as Error & { data?: { code: string } }).data?.code).toBe('INVALID_TOKEN');
  });

  // Last: it stops live2. The Redis adapter's disconnectSockets reaches every process unless it
  // is told `local`, so a process shutting down once closed the chat of the whole cluster.
  it("a live process that shuts down closes its own sockets, not the other process's", async () => {
    const a = open(fan.accessToken, ['websocket']);
    await connected(a);
    const b = open(host.accessToken, ['websocket']);
    await connected(b);
    expect([processOf(a), processOf(b)].sort()).toEqual(['live1', 'live2']);
    const [stays, goes] = processOf(a) === 'live1' ? [a, b] : [b, a];
    expect(await emit(stays, 'join', { eventId })).toMatchObject({ ok: true });
    expect(await emit(goes, 'join', { eventId })).toMatchObject({ ok: true });
    const reasons: string[] = [];
    stays.on('disconnect', (reason) => reasons.push(reason));
    const gone = new Promise<string>((resolve) => goes.once('disconnect', resolve));

    live2.process.kill('SIGTERM');
    expect(await live2.exited).toBe(0);
    expect(await gone).toBeTruthy();
    // The disconnect request goes through Redis: give it time to arrive, then ask again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await emit(stays, 'join', { eventId })).toMatchObject({ ok: true });
    expect(reasons).toEqual([]);
    expect(stays.connected).toBe(true);
  });
});
