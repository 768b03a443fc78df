/**
 * Live chat at scale, against a real server process:
 *   npx tsx bench/live.ts [--clients 1000] [--messages 50]
 * Starts Backbeat on a fresh embedded database (or DATABASE_URL's server: a scratch database),
 * connects `clients` socket.io clients (WebSocket transport) to one event's room, then posts
 * `messages` messages from a few senders and records, for every delivery, the time from the
 * emit to its arrival at each client: fan-out p50/p99. Server RSS is read from /proc before the
 * clients connect (the baseline) and with them connected. Then it measures the delay from an
 * event's `startsAt` to the `event.started` notification on a follower's SSE stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { api } from '../test/e2e/process.js';
import { freePort, memoryMb, startService } from './processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { clients: { type: 'string', default: '1000' }, messages: { type: 'string', default: '50' } },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
/** Each sender stays under the per-user limit (5 per 10 s). */
const PER_SENDER = 4;
/** The server's cap on one user's open chat sockets (DEFAULT_CHAT_LIMITS.maxSocketsPerUser). */
const SOCKETS_PER_USER = 20;
const ADMIN = { email: 'bench-admin@example.test', password: 'bench-admin-password' };
const log = (line: string) => process.stdout.write(`${line}\n`);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field.
type Json = any;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-bench-live-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startService(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'serve'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '1000000',
      RATE_LIMIT_AUTH_MAX: '1000000',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    },
    `${base}/health`,
    join(dataDir, 'server.log'),
  );
  const call = async (method: string, path: string, token?: string, body?: unknown): Promise<Json> => {
    return (await api(base, method, path, { token, body })).body;
  };
  const sockets: Socket[] = [];
  try {
    const admin = await call('POST', '/auth/login', undefined, ADMIN);
    const artist = await call('POST', '/artists', admin.accessToken, { name: 'Bench Artist' });
    const album = await call('POST', '/albums', admin.accessToken, {
      title: 'Bench',
      genre: 'Jazz',
      releaseYear: 2020,
      artistId: artist.id,
    });
    const song = await call('POST', `/albums/${album.id}/songs`, admin.accessToken, {
      title: 'One',
      durationMs: 180_000,
    });
    const host = await call('POST', '/auth/register', undefined, {
      email: 'bench-host@example.test',
      password: 'bench-password-1',
      displayName: 'Host',
    });
    await call('PATCH', `/admin/users/${host.user.id}`, admin.accessToken, {
      role: 'artist',
      artistId: artist.id,
    });
    const playlist = await call('POST', '/playlists', host.accessToken, { name: 'Set' });
    await call('POST', `/playlists/${playlist.id}/tracks`, host.accessToken, { songIds: [song.id] });
    const event = await call('POST', '/events', host.accessToken, {
      title: 'Bench room',
      playlistId: playlist.id,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    // The first accounts send; with the rest, no account holds more sockets than the server allows.
    const senderCount = Math.ceil(MESSAGES / PER_SENDER);
    const accounts: Json[] = [];
    for (let i = 0; i < Math.max(senderCount, Math.ceil(CLIENTS / SOCKETS_PER_USER)); i++) {
      accounts.push(
        await call('POST', '/auth/register', undefined, {
          email: `bench-sender-${i}@example.test`,
          password: 'bench-password-1',
          displayName: `Sender ${i}`,
        }),
      );
    }
    await sleep(1000);
    const idleRss = memoryMb(server.pid, 'VmRSS');

    // Connect and join in batches, as a crowd arriving.
    const connectStart = performance.now();
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    for (let i = 0; i < CLIENTS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CLIENTS - i) }, async (_, j) => {
          const sender = accounts[(i + j) % accounts.length]!;
          const socket = io(`${base}/events`, {
            transports: ['websocket'],
            auth: { token: sender.accessToken },
            reconnection: false,
          });
          sockets.push(socket);
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', () => resolve());
            socket.once('connect_error', reject);
          });
          socket.on('message', (m: { text: string }) => {
            const at = sentAt.get(m.text);
            if (at !== undefined) latencies.push(performance.now() - at);
          });
          const joined = await socket.emitWithAck('join', { eventId: event.id });
          if (!joined.ok) throw new Error(`join failed: ${JSON.stringify(joined)}`);
        }),
      );
    }
    const connectMs = performance.now() - connectStart;
    await sleep(1000);
    const connectedRss = memoryMb(server.pid, 'VmRSS');

    for (let m = 0; m < MESSAGES; m++) {
      const socket = sockets[Math.floor(m / PER_SENDER) % senderCount]!;
      const text = `bench message ${m}`;
      sentAt.set(text, performance.now());
      const ack = await socket.emitWithAck('message', { eventId: event.id, text });
      if (!ack.ok) throw new Error(`message refused: ${JSON.stringify(ack)}`);
      await sleep(50);
    }
    const expected = MESSAGES * CLIENTS;
    const deadline = Date.now() + 30_000;
    while (latencies.length < expected && Date.now() < deadline) await sleep(100);
    const peakRss = memoryMb(server.pid, 'VmHWM');
    latencies.sort((a, b) => a - b);
    const count = (await call('GET', `/events/${event.id}`)).listenerCount;

    // startsAt -> event.started on a follower's notification stream.
    const follower = accounts[0]!;
    await call('PUT', `/me/following/artists/${artist.id}`, follower.accessToken);
    const startsAt = Date.now() + 3000;
    await call('POST', '/events', host.accessToken, {
      title: 'Starts soon',
      playlistId: playlist.id,
      startsAt: new Date(startsAt).toISOString(),
    });
    const stream = await fetch(`${base}/api/v1/me/notifications/stream`, {
      headers: { authorization: `Bearer ${follower.accessToken}` },
    });
    const reader = stream.body!.getReader();
    let buffer = '';
    let notifiedAt = 0;
    while (!notifiedAt) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      if (buffer.includes('"event.started"')) notifiedAt = Date.now();
    }
    await reader.cancel();

    log(
      `clients connected and joined: ${CLIENTS} in ${(connectMs / 1000).toFixed(1)} s (listenerCount ${count})`,
    );
    log(`deliveries: ${latencies.length} of ${expected}`);
    log(
      `fan-out latency ms: p50 ${percentile(latencies, 50).toFixed(1)}, p99 ${percentile(latencies, 99).toFixed(1)}, max ${latencies.at(-1)?.toFixed(1)}`,
    );
    log(
      `server RSS MB: idle ${idleRss}, with ${CLIENTS} clients ${connectedRss} (+${connectedRss - idleRss}), peak ${peakRss}`,
    );
    log(`startsAt -> event.started on SSE: ${notifiedAt - startsAt} ms`);
    log(
      `load average at the end: ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    for (const socket of sockets) socket.disconnect();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
