import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../global-setup.js';

/**
 * The real thing: `npm start` as a user runs it, on its own embedded database in a fresh
 * DATA_DIR (or on TEST_DATABASE_URL's server), driven over HTTP.
 */
const ROOT = new URL('../..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * With TEST_DATABASE_URL the servers use a new, empty database on that server, so the run
 * also proves that `npm start` migrates a fresh PostgreSQL database.
 */
let e2eDatabaseUrl: string | undefined;
const serverUrl = process.env.TEST_DATABASE_URL;
const e2eDatabaseName = `backbeat_e2e_${process.pid}`;

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (!serverUrl) return;
  await adminQuery(`drop database if exists ${e2eDatabaseName} with (force)`);
  await adminQuery(`create database ${e2eDatabaseName}`);
  e2eDatabaseUrl = withDatabase(serverUrl, e2eDatabaseName);
});

afterAll(async () => {
  if (serverUrl) await adminQuery(`drop database if exists ${e2eDatabaseName} with (force)`);
});

interface Server {
  process: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

function serverEnv(
  dataDir: string,
  port: number,
  embedded: boolean,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_AUTH_MAX: '1000',
  };
  if (!embedded && e2eDatabaseUrl) env.DATABASE_URL = e2eDatabaseUrl;
  if (process.env.TEST_REDIS_URL) env.REDIS_URL = process.env.TEST_REDIS_URL;
  return { ...env, ...extra };
}

function start(
  command: string[],
  dataDir: string,
  port: number,
  options: { embedded?: boolean; env?: NodeJS.ProcessEnv } = {},
): Server {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: serverEnv(dataDir, port, options.embedded ?? false, options.env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function waitUntilUp(server: Server, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
    try {
      const res = await fetch(`${server.base}/health`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not come up:\n${server.output()}`);
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field.
type Json = any;

async function json(res: Response): Promise<{ status: number; body: Json }> {
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

function post(base: string, path: string, body: unknown, token?: string) {
  return fetch(`${base}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  }).then(json);
}

describe('npm start, end to end', () => {
  let dataDir: string;
  let server: Server;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    // As an earlier version or a careless mkdir left it: readable by everyone.
    chmodSync(dataDir, 0o755);
    server = start(['npm', 'start'], dataDir, await freePort());
    await waitUntilUp(server);
  }, 120_000);

  afterAll(async () => {
    if (server.process.exitCode === null) process.kill(-server.process.pid!, 'SIGTERM');
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs up, signs in, refreshes and signs out over HTTP', async () => {
    const email = `e2e-${Date.now()}@example.test`;
    const signup = await post(server.base, '/auth/register', {
      email,
      password: 'e2e-password-1',
      displayName: 'E2E',
    });
    expect(signup.status).toBe(201);

    const signin = await post(server.base, '/auth/login', { email, password: 'e2e-password-1' });
    expect(signin.status).toBe(200);
    const me = await fetch(`${server.base}/api/v1/me`, {
      headers: { authorization: `Bearer ${signin.body.accessToken}` },
    });
    expect((await json(me)).body.email).toBe(email);

    const refreshed = await post(server.base, '/auth/refresh', { refreshToken: signin.body.refreshToken });
    expect(refreshed.status).toBe(200);

    const signout = await post(server.base, '/auth/logout', { refreshToken: refreshed.body.refreshToken });
    expect(signout.status).toBe(204);
    const after = await fetch(`${server.base}/api/v1/me`, {
      headers: { authorization: `Bearer ${refreshed.body.accessToken}` },
    });
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('keeps DATA_DIR private: the directory 0700, everything in it readable by its user only', async () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const open: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isSymbolicLink()) continue;
        if ((statSync(path).mode & 0o077) !== 0) open.push(path);
        if (entry.isDirectory()) walk(path);
      }
    };
    walk(dataDir);
    expect(open).toEqual([]);
  });

  it('serves /docs and /openapi.json', async () => {
    expect((await fetch(`${server.base}/docs/`)).status).toBe(200);
    const spec: Json = await (await fetch(`${server.base}/openapi.json`)).json();
    expect(spec.info.title).toBe('Backbeat API');
  });
});

describe('the embedded database', () => {
  it('refuses a second server on the same DATA_DIR with a clear message', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    // Always PGlite: the lock guards the embedded database, whichever backend the suite targets.
    const first = start(['node', '--import', 'tsx', 'src/main.ts', 'serve'], dataDir, await freePort(), {
      embedded: true,
    });
    try {
      await waitUntilUp(first);
      const second = start(['node', '--import', 'tsx', 'src/main.ts', 'serve'], dataDir, await freePort(), {
        embedded: true,
      });
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/DATA_DIR .* is in use by another Backbeat process/);
    } finally {
      first.process.kill('SIGTERM');
      await first.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('production configuration', () => {
  it('refuses DEMO_DATA=true in production with a message naming it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    try {
      const server = start(['node', '--import', 'tsx', 'src/main.ts', 'serve'], dataDir, await freePort(), {
        env: {
          NODE_ENV: 'production',
          JWT_SECRET: 'an-e2e-production-secret-of-32-bytes-or-more',
          CORS_ORIGINS: 'https://app.example.test',
          DEMO_DATA: 'true',
        },
      });
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/DEMO_DATA: refused in production/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests on SIGTERM, exits 0, and restarts on the same data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    const server = start(['node', '--import', 'tsx', 'src/main.ts', 'serve'], dataDir, await freePort());
    try {
      await waitUntilUp(server);
      // Send the headers and half the body, signal while the server waits for the rest, then
      // finish the body: the request is certainly in flight when SIGTERM arrives.
      const body = JSON.stringify({
        email: `shutdown-${Date.now()}@example.test`,
        password: 'e2e-password-1',
        displayName: 'Late',
      });
      const inFlight = new Promise<{ status: number; body: Json }>((resolve, reject) => {
        const req = request(
          `${server.base}/api/v1/auth/register`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.write(body.slice(0, 10));
        setTimeout(() => {
          server.process.kill('SIGTERM');
          setTimeout(() => req.end(body.slice(10)), 300);
        }, 500);
      });
      const registered = await inFlight;
      expect(registered.status).toBe(201);
      expect(await server.exited).toBe(0);
      await expect(fetch(`${server.base}/health`)).rejects.toThrow();

      // The development JWT secret was generated into DATA_DIR once and is reused after a restart.
      const again = start(['node', '--import', 'tsx', 'src/main.ts', 'serve'], dataDir, await freePort());
      try {
        await waitUntilUp(again);
        const me = await fetch(`${again.base}/api/v1/me`, {
          headers: { authorization: `Bearer ${registered.body.accessToken}` },
        });
        expect(me.status).toBe(200);
      } finally {
        again.process.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      if (server.process.exitCode === null) server.process.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
