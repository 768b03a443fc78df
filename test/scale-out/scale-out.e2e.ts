import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../global-setup.js';
import { deleteNatsStream } from '../helpers.js';
import { openStream } from '../sse.js';

/**
 * Backbeat as separate services, as deployed: a gateway, two API processes serving identity,
 * catalog, library and discovery, and a worker, on PostgreSQL, Redis and NATS. The stream and
 * database are named for this run, so parallel runs do not meet.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const POSTGRES = process.env.SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.SCALE_NATS_URL ?? 'nats://127.0.0.1:4222';
const RUN = `${process.pid}_${randomBytes(3).toString('hex')}`;
const DATABASE = `backbeat_scale_${RUN}`;
const NATS_STREAM = `bbscale_${RUN}`;
const ADMIN = { email: `admin-${RUN}@example.test`, password: 'admin-password-123' };
const API_ROLES = 'identity,catalog,library,discovery';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field.
type Json = any;

interface Server {
  name: string;
  process: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-scale-'));

async function start(name: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dataDir, name),
      DATABASE_URL: withDatabase(POSTGRES, DATABASE),
      REDIS_URL,
      NATS_URL,
      NATS_STREAM,
      JWT_SECRET: `scale-out-test-secret-${RUN}-0123456789`,
      CORS_ORIGINS: 'https://player.example.test',
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '100000',
      RATE_LIMIT_AUTH_MAX: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name, process: child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** Waits for `/health/ready` (200): migrated, connected, serving. */
async function ready(server: Server, path = '/health/ready', timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`${server.name} exited:\n${server.output()}`);
    try {
      if ((await fetch(`${server.base}${path}`)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${server.name} did not become ready:\n${server.output()}`);
}

async function api(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function getJson(url: string): Promise<Json> {
  return (await fetch(url)).json();
}

let worker: Server;
let api1: Server;
let api2: Server;
let gateway: Server;
const servers = () => [worker, api1, api2, gateway].filter(Boolean);

beforeAll(async () => {
  await adminQuery(`create database ${DATABASE}`);
  // The worker migrates and creates the admin first; the API processes then start together.
  worker = await start('worker', {
    SERVICES: 'worker',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  await ready(worker);
  [api1, api2] = await Promise.all([
    start('api1', { SERVICES: API_ROLES }),
    start('api2', { SERVICES: API_ROLES }),
  ]);
  await Promise.all([ready(api1), ready(api2)]);
  const upstreams = API_ROLES.split(',')
    .map((role) => `${role}=${api1.base} ${api2.base}`)
    .join(',');
  gateway = await start('gateway', { SERVICES: 'gateway', GATEWAY_UPSTREAMS: upstreams });
  await ready(gateway, '/health/services');
});

afterAll(async () => {
  for (const server of servers()) if (server.process.exitCode === null) server.process.kill('SIGTERM');
  await Promise.all(servers().map((s) => s.exited));
  await adminQuery(`drop database if exists ${DATABASE} with (force)`);
  await deleteNatsStream(NATS_URL, NATS_STREAM);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('scale-out: gateway, two API processes and a worker', () => {
  let adminToken: string;
  let user: { token: string; auth: Record<string, string> };
  let album: Json;

  it('reports roles and upstream health', async () => {
    expect((await getJson(`${gateway.base}/health/ready`)).roles).toEqual(['gateway']);
    expect((await getJson(`${api1.base}/health/ready`)).roles).toEqual([
      'identity',
      'catalog',
      'library',
      'discovery',
    ]);
    expect((await getJson(`${worker.base}/health/ready`)).roles).toEqual(['worker']);
    const services = await getJson(`${gateway.base}/health/services`);
    expect(services.status).toBe('ok');
    expect(services.services.catalog.map((u: Json) => u.status)).toEqual(['ok', 'ok']);
  });

  it('signs in and writes through the gateway', async () => {
    const login = await api(gateway.base, 'POST', '/auth/login', { body: ADMIN });
    expect(login.status).toBe(200);
    adminToken = login.body.accessToken;
    const registered = await api(gateway.base, 'POST', '/auth/register', {
      body: { email: `fan-${RUN}@example.test`, password: 'correct-horse-battery', displayName: 'Fan' },
    });
    expect(registered.status).toBe(201);
    const token = registered.body.accessToken;
    user = { token, auth: { authorization: `Bearer ${token}` } };
    const artist = await api(gateway.base, 'POST', '/artists', {
      token: adminToken,
      body: { name: `Band ${RUN}` },
    });
    expect(artist.status).toBe(201);
    const created = await api(gateway.base, 'POST', '/albums', {
      token: adminToken,
      body: { title: 'First title', genre: 'Rock', releaseYear: 2024, artistId: artist.body.id },
    });
    expect(created.status).toBe(201);
    album = created.body;
    expect((await api(gateway.base, 'PUT', `/me/following/albums/${album.id}`, { token })).status).toBe(204);
  });

  it('delivers a notification raised on one process to streams on every process', async () => {
    const streams = await Promise.all([
      openStream(api1.base, user),
      openStream(api2.base, user),
      openStream(gateway.base, user),
    ]);
    expect(streams.map((s) => s.response.status)).toEqual([200, 200, 200]);
    // Written on api1 only; the notification must reach api2's stream through NATS.
    const song = await api(api1.base, 'POST', `/albums/${album.id}/songs`, {
      token: adminToken,
      body: { title: 'Across the wire', durationMs: 180_000 },
    });
    expect(song.status).toBe(201);
    for (const stream of streams) {
      const event = await stream.nextNotification(15_000);
      expect(JSON.parse(event.data!).song.id).toBe(song.body.id);
      stream.close();
    }
  });

  it('invalidates cached reads on every process after a write on one', async () => {
    for (const server of [api1, api2, api1, api2]) {
      expect((await api(server.base, 'GET', `/albums/${album.id}`)).body.title).toBe('First title');
    }
    const patched = await api(api2.base, 'PATCH', `/albums/${album.id}`, {
      token: adminToken,
      body: { title: 'Second title' },
    });
    expect(patched.status).toBe(200);
    for (const server of [api1, api2, gateway]) {
      expect((await api(server.base, 'GET', `/albums/${album.id}`)).body.title).toBe('Second title');
    }
  });

  it('loses no accepted request while an API process shuts down', async () => {
    const songs = (await api(gateway.base, 'GET', `/albums/${album.id}/songs`)).body.items;
    const songId = songs[0].id;
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const traffic = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const [method, path, body] = [
          ['GET', `/albums/${album.id}`, undefined],
          ['GET', '/albums?limit=5', undefined],
          ['POST', `/songs/${songId}/plays`, { event: i % 2 ? 'skip' : 'complete' }],
          ['GET', '/me/notifications?limit=5', undefined],
          ['PUT', `/me/following/albums/${album.id}`, undefined],
        ][(i + n) % 5] as [string, string, unknown];
        sent++;
        try {
          const res = await api(gateway.base, method, path, { token: user.token, body });
          if (res.status >= 300)
            failures.push(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
        } catch (error) {
          failures.push(`${method} ${path}: ${(error as Error).message}`);
        }
      }
    };
    const running = [0, 1, 2, 3].map(traffic);
    await new Promise((r) => setTimeout(r, 2_000));
    api2.process.kill('SIGTERM');
    expect(await api2.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(running);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);

    const services = await getJson(`${gateway.base}/health/services`);
    expect(services.status).toBe('ok');
    expect(services.services.catalog).toEqual([
      { url: api1.base, status: 'ok', latencyMs: expect.any(Number) },
      { url: api2.base, status: 'down', latencyMs: null },
    ]);
  });

  it('keeps streaming on the process that is left', async () => {
    const stream = await openStream(gateway.base, user);
    const song = await api(gateway.base, 'POST', `/albums/${album.id}/songs`, {
      token: adminToken,
      body: { title: 'After the fall', durationMs: 200_000 },
    });
    expect(song.status).toBe(201);
    expect(JSON.parse((await stream.nextNotification(15_000)).data!).song.id).toBe(song.body.id);
    stream.close();
  });
});
