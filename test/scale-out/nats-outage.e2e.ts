import { createServer, type Server as NetServer, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream } from '../sse.js';
import { api, createRun, freePort, NATS_URL, ready, type Server } from './cluster.js';

/**
 * A process whose NATS goes away: it keeps serving, the events wait in the outbox, and they
 * arrive once NATS is back. NATS is reached through a TCP relay this test can cut.
 */
const run = createRun('outage');
const target = new URL(NATS_URL);
let relayPort: number;
let relay: NetServer | undefined;
const sockets = new Set<Socket>();
let server: Server;

function openRelay(): Promise<void> {
  relay = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 4222), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => relay!.listen(relayPort, '127.0.0.1', resolve));
}

function cutRelay(): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => relay!.close(() => resolve()));
}

beforeAll(async () => {
  relayPort = await freePort();
  await openRelay();
  await run.createDatabase();
  server = await run.start('all', {
    NATS_URL: `nats://127.0.0.1:${relayPort}`,
    ADMIN_EMAIL: run.admin.email,
    ADMIN_PASSWORD: run.admin.password,
  });
  await ready(server);
});

afterAll(async () => {
  await run.cleanup();
  if (relay?.listening) await cutRelay();
});

describe('a NATS outage', () => {
  it('delays events without losing them, and the process keeps serving', async () => {
    const admin = (await api(server.base, 'POST', '/auth/login', { body: run.admin })).body.accessToken;
    const fan = await api(server.base, 'POST', '/auth/register', {
      body: {
        email: `fan-${Date.now()}@example.test`,
        password: 'correct-horse-battery',
        displayName: 'Fan',
      },
    });
    const user = { auth: { authorization: `Bearer ${fan.body.accessToken}` } };
    const artist = await api(server.base, 'POST', '/artists', {
      token: admin,
      body: { name: 'Outage Band' },
    });
    const album = await api(server.base, 'POST', '/albums', {
      token: admin,
      body: { title: 'Offline', genre: 'Rock', releaseYear: 2024, artistId: artist.body.id },
    });
    await api(server.base, 'PUT', `/me/following/albums/${album.body.id}`, { token: fan.body.accessToken });
    const stream = await openStream(server.base, user);
    expect(stream.response.status).toBe(200);
    // Give the bus time to connect and start reading before the first event.
    await new Promise((r) => setTimeout(r, 2_000));

    await cutRelay();
    const song = await api(server.base, 'POST', `/albums/${album.body.id}/songs`, {
      token: admin,
      body: { title: 'Written while NATS was away', durationMs: 180_000 },
    });
    expect(song.status).toBe(201);
    expect((await api(server.base, 'GET', `/albums/${album.body.id}`)).status).toBe(200);
    // Live events travel through NATS only: none can arrive while it is unreachable.
    await expect(stream.nextNotification(2_000)).rejects.toThrow(/no matching event/);

    await openRelay();
    const event = await stream.nextNotification(60_000);
    expect(JSON.parse(event.data!).song.id).toBe(song.body.id);
    stream.close();
  });
});
