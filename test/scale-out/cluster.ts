import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { api } from '../e2e/process.js';
import { withDatabase } from '../global-setup.js';
import { deleteNatsStream } from '../helpers.js';

/**
 * Real Backbeat processes for the scale-out runs, on PostgreSQL, Redis and NATS (127.0.0.1
 * unless SCALE_* says otherwise). A run's database and NATS stream carry its own name, so
 * parallel runs do not meet.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const POSTGRES = process.env.SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.SCALE_NATS_URL ?? 'nats://127.0.0.1:4222';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field.
export type Json = any;

export interface Server {
  name: string;
  process: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

export function freePort(): Promise<number> {
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

/** One run: a database, a NATS stream, an admin account, and the processes started in it. */
export function createRun(label: string) {
  const id = `${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const database = `backbeat_${id}`;
  const natsStream = `bb_${id}`;
  const admin = { email: `admin-${id}@example.test`.replace(/_/g, '-'), password: 'admin-password-123' };
  const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-scale-'));
  const started: Server[] = [];

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
        // One MEDIA_DIR for the run, as deploy/ mounts one volume: a file one process stores,
        // the worker transcodes and another process streams.
        MEDIA_DIR: join(dataDir, 'media'),
        DATABASE_URL: withDatabase(POSTGRES, database),
        REDIS_URL,
        NATS_URL,
        NATS_STREAM: natsStream,
        JWT_SECRET: `scale-out-test-secret-${id}-0123456789`,
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
    const server = { name, process: child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
    started.push(server);
    return server;
  }

  return {
    admin,
    start,
    async createDatabase() {
      await adminQuery(`create database ${database}`);
    },
    /** Stops what is still running and removes the database, the stream and the data dirs. */
    async cleanup() {
      for (const server of started) if (server.process.exitCode === null) server.process.kill('SIGTERM');
      await Promise.all(started.map((s) => s.exited));
      await adminQuery(`drop database if exists ${database} with (force)`);
      await deleteNatsStream(NATS_URL, natsStream);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits for `path` to answer 200: migrated, connected, serving. */
export async function ready(server: Server, path = '/health/ready', timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // What the last probe saw, for the error: a process that never listened and one whose
  // readiness names a failing check are different failures.
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`${server.name} exited:\n${server.output()}`);
    try {
      const response = await fetch(`${server.base}${path}`);
      if (response.status === 200) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = `${(error as Error).message} (${((error as Error).cause as Error | undefined)?.message ?? 'no cause'})`;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${server.name} did not become ready; last probe of ${path}: ${last}\n${server.output()}`);
}

export { api };

export async function getJson(url: string): Promise<Json> {
  return (await fetch(url)).json();
}
