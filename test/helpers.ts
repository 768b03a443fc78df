import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pg from 'pg';
import { inject as provided } from 'vitest';
import { type AppDeps, buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { connectRedis, createCacheStore } from '../src/platform/cache.js';
import { type Database, fromPglite, fromPostgres, PGLITE_EXTENSIONS } from '../src/platform/db.js';
import { linkOf } from '../src/platform/redis.js';
import { withDatabase } from './global-setup.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface TestApp {
  app: FastifyInstance;
  database: Database;
  close(): Promise<void>;
}

/** A fresh copy of the migrated template database for one test file. */
async function copyTemplateDatabase(): Promise<{ database: Database; drop: () => Promise<void> }> {
  const template = provided('postgresTemplate');
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (template && serverUrl) {
    const name = `${template}_f${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${name} template ${template}`);
    await admin.end();
    return {
      database: fromPostgres(withDatabase(serverUrl, name), 5),
      drop: async () => {
        const client = new pg.Client({ connectionString: serverUrl });
        await client.connect();
        await client.query(`drop database if exists ${name} with (force)`);
        await client.end();
      },
    };
  }
  const dump = new Blob([readFileSync(provided('pgliteTemplate'))]);
  const client = await PGlite.create({ loadDataDir: dump, extensions: PGLITE_EXTENSIONS });
  return { database: fromPglite(client), drop: async () => {} };
}

/**
 * Builds the real app on a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL) and
 * the in-process cache (Redis with TEST_REDIS_URL, under a key prefix of its own).
 */
export async function buildTestApp(
  env: Record<string, string> = {},
  extra: Pick<AppDeps, 'webPlayerDir' | 'clock' | 'liveChatLimits'> = {},
): Promise<TestApp> {
  const { database, drop } = await copyTemplateDatabase();
  const redisUrl = process.env.TEST_REDIS_URL;
  const redis = redisUrl ? connectRedis(redisUrl, `bbtest:${randomBytes(6).toString('hex')}:`) : undefined;
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: join(tmpdir(), 'backbeat-test-data'),
    RATE_LIMIT_MAX: '1000000',
    RATE_LIMIT_AUTH_MAX: '1000000',
    DEMO_DATA: 'false',
    ...env,
  });
  if (redis) await linkOf(redis).whenUp();
  const app = await buildApp(config, { database, cacheStore: createCacheStore(redis), redis, ...extra });
  await app.ready();
  return {
    app,
    database,
    async close() {
      await app.close();
      await database.close();
      await drop();
      if (redis) {
        const prefix = redis.options.keyPrefix ?? '';
        const keys = await redis.keys(`${prefix}*`);
        // keys() returns full names; del() would prefix them again, so strip the prefix.
        if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
        redis.disconnect();
      }
    },
  };
}

export interface Session {
  user: { id: string; email?: string; role: string; displayName: string };
  accessToken: string;
  refreshToken: string;
  auth: { authorization: string };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}@example.test`;
}

export async function register(
  app: FastifyInstance,
  overrides: Partial<{ email: string; password: string; displayName: string }> = {},
): Promise<Session> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: {
      email: uniqueEmail(),
      password: 'correct-horse-battery',
      displayName: 'Test User',
      ...overrides,
    },
  });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  return asSession(res.json());
}

export async function login(app: FastifyInstance, email: string, password: string): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return asSession(res.json());
}

function asSession(body: Omit<Session, 'auth'>): Session {
  return { ...body, auth: { authorization: `Bearer ${body.accessToken}` } };
}

/** An admin account, created the way a deployment creates its first admin (ADMIN_EMAIL). */
export async function createAdmin(app: FastifyInstance): Promise<Session> {
  const email = uniqueEmail('admin');
  await app.services.identity.ensureAdmin(email, 'admin-password-123');
  return login(app, email, 'admin-password-123');
}

/** `app.inject` with a Bearer session and JSON parsed. */
export async function call(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  options: { session?: Session; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await app.inject({
    method,
    url,
    headers: { ...(options.session?.auth ?? {}), ...(options.headers ?? {}) },
    ...(options.body !== undefined ? { payload: options.body as InjectOptions['payload'] } : {}),
  });
  const isJson = /json/.test(String(res.headers['content-type'] ?? ''));
  return { status: res.statusCode, headers: res.headers, body: isJson ? res.json() : res.body, raw: res };
}

/** Removes a test run's NATS stream (and with it its consumers), so runs leave nothing behind. */
export async function deleteNatsStream(url: string, stream: string): Promise<void> {
  const { connect } = await import('nats');
  const connection = await connect({ servers: url });
  try {
    const manager = await connection.jetstreamManager();
    await manager.streams.delete(stream).catch(() => false);
  } finally {
    await connection.close();
  }
}
