import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { withDatabase } from '../global-setup.js';

/**
 * Real server processes for end-to-end tests: `npm start` (or node) as a user runs it, on its
 * own embedded database in a fresh DATA_DIR, or on a new database of TEST_DATABASE_URL's server.
 */
export const ROOT = new URL('../..', import.meta.url).pathname;
/** `npm start` without npm: the bundle the suite's global set-up builds from src/. */
export const SERVE = ['node', '--enable-source-maps', 'dist/main.js', 'serve'];

export function freePort(): Promise<number> {
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

const serverUrl = process.env.TEST_DATABASE_URL;

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * With TEST_REDIS_URL, the Redis database of each test file's servers: they share one cache as
 * they share one PostgreSQL database, and never see another file's cached pages (a cached
 * `/albums?limit=20` of another database), nor the tests' own keys (database 0, under prefixes
 * of their own). Database 11 is the load suite's.
 */
const REDIS_DATABASES: Record<string, number> = { server: 1, import: 2, audio: 3, live: 4 };
let fileRedisUrl: string | undefined;

/**
 * With TEST_DATABASE_URL, servers of the calling test file use a new, empty database on that
 * server (so the run also proves that a start migrates a fresh PostgreSQL database), and with
 * TEST_REDIS_URL an emptied Redis database of their own. Returns a getter for the PostgreSQL
 * URL (undefined on the embedded database).
 */
export function useE2eDatabase(name: string): () => string | undefined {
  let url: string | undefined;
  const database = `backbeat_e2e_${name}_${process.pid}`;
  beforeAll(async () => {
    const redisUrl = process.env.TEST_REDIS_URL;
    if (redisUrl) {
      const index = REDIS_DATABASES[name];
      if (index === undefined) throw new Error(`no Redis database for the e2e file "${name}"`);
      const own = new URL(redisUrl);
      own.pathname = `/${index}`;
      const redis = new Redis(own.toString());
      await redis.flushdb();
      redis.disconnect();
      fileRedisUrl = own.toString();
    }
    if (!serverUrl) return;
    await adminQuery(`drop database if exists ${database} with (force)`);
    await adminQuery(`create database ${database}`);
    url = withDatabase(serverUrl, database);
  });
  afterAll(async () => {
    if (serverUrl) await adminQuery(`drop database if exists ${database} with (force)`);
  });
  return () => url;
}

export interface Server {
  process: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** A PostgreSQL URL; unset: the embedded database in `dataDir`. */
  databaseUrl?: string;
  env?: Record<string, string>;
}

function serverEnv(dataDir: string, port: number, options: StartOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_AUTH_MAX: '1000',
    ...options.env,
  };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  const redisUrl = fileRedisUrl ?? process.env.TEST_REDIS_URL;
  if (redisUrl) env.REDIS_URL = redisUrl;
  return env;
}

export function start(command: string[], dataDir: string, port: number, options: StartOptions = {}): Server {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: serverEnv(dataDir, port, options),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

export async function waitUntilUp(server: Server, timeoutMs = 90_000): Promise<void> {
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

/** Stops a server (its whole process group) and waits for it. */
export async function stop(server: Server, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (server.process.exitCode === null && server.process.signalCode === null) {
    process.kill(-server.process.pid!, signal);
  }
  await server.exited;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field.
export type Json = any;

export async function json(res: Response): Promise<{ status: number; body: Json }> {
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * One call to the API of the server at `base`, as a client makes it: the bearer token and a JSON
 * body when given; an empty answer's body is null. The e2e, scale-out, fault and browser tests
 * and the benches all use it.
 */
export function api(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: Json }> {
  const { token, body, timeoutMs } = options;
  return fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
  }).then(json);
}

export function post(base: string, path: string, body: unknown, token?: string) {
  return api(base, 'POST', path, { body, token });
}
