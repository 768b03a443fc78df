import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as apiCall } from '../e2e/process.js';
import { openStream } from '../sse.js';
import { ReadyPoller, Writers, waitHealthy, waitReady } from './load.js';
import {
  freePort,
  NatsProcess,
  natsUnavailable,
  PostgresProcess,
  postgresUnavailable,
  RedisProcess,
  ServerProcess,
  sleep,
} from './services.js';

/**
 * Fault tests on real services: a private PostgreSQL cluster, redis-server and nats-server, and
 * the server as `npm start` runs it, under a steady load of writes. The rules: an acknowledged
 * write is never lost, `/health/ready` names the failing dependency with a 503 (and says it no
 * longer serves only for the database, which the server cannot work without), the service recovers by itself, no
 * cache serves stale data after recovery, and events raised while NATS is away arrive after.
 * Each test prints its figures.
 */
const JWT_SECRET = 'fault-tests-secret-that-is-long-enough-0123456789';
const ADMIN = { email: 'faults-admin@example.test', password: 'faults-admin-password' };

/** The shared client call, with a timeout: a request must never hang while a dependency is down. */
const api = (base: string, method: string, path: string, token?: string, body?: unknown) =>
  apiCall(base, method, path, { token, body, timeoutMs: 10_000 });

async function signIn(base: string): Promise<string> {
  const res = await api(base, 'POST', '/auth/login', undefined, ADMIN);
  if (res.status !== 200) throw new Error(`admin sign-in failed: ${res.status}`);
  return res.body.accessToken;
}

function report(name: string, figures: Record<string, string | number>): void {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(`[faults] ${name}: ${line}`);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const noPostgres = postgresUnavailable();
if (noPostgres) console.log(`[faults] SKIPPED the PostgreSQL and Redis tests: ${noPostgres}`);
const noNats = natsUnavailable();
if (noNats && !noPostgres) console.log(`[faults] SKIPPED the NATS test: ${noNats}`);

describe.skipIf(!!noPostgres)('on PostgreSQL and Redis', () => {
  let postgres: PostgresProcess;
  let redis: RedisProcess;
  let nats: NatsProcess | undefined;
  let server: ServerProcess;
  let databaseUrl: string;
  let token: string;
  let albumId: string;
  const base = () => server.base;

  /** How many of `ids` the database holds. */
  async function stored(ids: string[]): Promise<number> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const result = await client.query(
        'select count(*)::int as n from playlists where id = any($1::uuid[])',
        [ids],
      );
      return result.rows[0].n;
    } finally {
      await client.end();
    }
  }

  async function anonymousTitle(): Promise<string> {
    const res = await api(base(), 'GET', `/albums/${albumId}`);
    expect(res.status).toBe(200);
    return res.body.title;
  }

  async function retitle(title: string): Promise<void> {
    const res = await api(base(), 'PATCH', `/albums/${albumId}`, token, { title });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    postgres = new PostgresProcess(await freePort());
    await postgres.init();
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query('create database backbeat');
    await admin.end();
    databaseUrl = postgres.url.replace(/\/postgres$/, '/backbeat');
    redis = new RedisProcess(await freePort());
    await redis.start();
    if (!noNats) {
      nats = new NatsProcess(await freePort());
      await nats.start();
    }
    server = new ServerProcess(await freePort(), {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      ...(nats ? { NATS_URL: nats.url, NATS_STREAM: 'faults' } : {}),
      JWT_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      CACHE_TTL: '300s',
    });
    await server.start();
    token = await signIn(base());
    const album = await api(base(), 'POST', '/albums', token, {
      title: 'v1',
      genre: 'Rock',
      releaseYear: 2020,
      artistName: 'Fault Artist',
    });
    expect(album.status).toBe(201);
    albumId = album.body.id;
  }, 180_000);

  afterAll(async () => {
    await server?.kill('SIGTERM');
    await redis?.stop();
    await nats?.stop();
    await postgres?.destroy();
  });

  it('Redis killed and restarted from an older snapshot under load', async () => {
    expect(await anonymousTitle()).toBe('v1');
    expect(await anonymousTitle()).toBe('v1');
    // The snapshot holds the cached 'v1' and the version counters of that moment.
    expect(redis.cli('save')).toBe('OK');
    await retitle('v2');
    expect(await anonymousTitle()).toBe('v2');

    const writers = new Writers(base, token).start();
    const poller = new ReadyPoller(base).start();
    await writers.until(50);
    await redis.kill();
    await sleep(300);
    // Writes are not refused while Redis is away, and the node reads its own writes.
    await retitle('v3');
    expect(await anonymousTitle()).toBe('v3');
    const during = writers.acked.length;
    await sleep(2000);
    const ackedWhileDown = writers.acked.length - during;
    await redis.start();
    const restartedAt = Date.now();
    const readyAt = await waitHealthy(base());
    // Without the epoch the restored counters point at the snapshot's 'v1' again.
    expect(await anonymousTitle()).toBe('v3');
    await writers.until(50);
    await writers.stop();
    await poller.stop();

    const lost = writers.acked.length - (await stored(writers.acked));
    report('redis killed and restarted', {
      'writes acknowledged': writers.acked.length,
      'acknowledged while Redis was down': ackedWhileDown,
      lost,
      'refused or failed': writers.refusedCount,
      'healthy again after Redis restart': seconds(readyAt - restartedAt),
      '/health/ready answers not serving': poller.notServing,
    });
    // Reported, but the node stays in rotation: it serves on its fallbacks.
    expect(poller.degraded('cache')).toBe(true);
    expect(poller.notServing).toBe(0);
    expect(writers.refused).toEqual(new Map());
    expect(ackedWhileDown).toBeGreaterThan(0);
    expect(lost).toBe(0);
  }, 120_000);

  it('a frozen Redis neither hangs requests nor leaves stale entries behind', async () => {
    const writers = new Writers(base, token).start();
    const poller = new ReadyPoller(base).start();
    await writers.until(30);
    redis.signal('SIGSTOP');
    await sleep(300);
    await retitle('v4');
    expect(await anonymousTitle()).toBe('v4');
    const during = writers.acked.length;
    await sleep(2500);
    const ackedWhileFrozen = writers.acked.length - during;
    redis.signal('SIGCONT');
    const resumedAt = Date.now();
    const readyAt = await waitHealthy(base());
    expect(await anonymousTitle()).toBe('v4');
    await writers.until(30);
    await writers.stop();
    await poller.stop();

    const lost = writers.acked.length - (await stored(writers.acked));
    report('redis frozen (SIGSTOP) for 2.8 s', {
      'writes acknowledged': writers.acked.length,
      'acknowledged while frozen': ackedWhileFrozen,
      lost,
      'refused, failed or timed out': writers.refusedCount,
      'healthy again after SIGCONT': seconds(readyAt - resumedAt),
      '/health/ready answers not serving': poller.notServing,
    });
    expect(poller.degraded('cache')).toBe(true);
    expect(poller.notServing).toBe(0);
    expect(writers.refused).toEqual(new Map());
    expect(ackedWhileFrozen).toBeGreaterThan(0);
    expect(lost).toBe(0);
  }, 120_000);

  it.skipIf(!!noNats)(
    'NATS killed and restarted under load: events wait, then arrive',
    async () => {
      const fan = await api(base(), 'POST', '/auth/register', undefined, {
        email: `fan-${Date.now()}@example.test`,
        password: 'correct-horse-battery',
        displayName: 'Fan',
      });
      expect(fan.status).toBe(201);
      const follow = await api(base(), 'PUT', `/me/following/albums/${albumId}`, fan.body.accessToken);
      expect(follow.status).toBe(204);
      const stream = await openStream(base(), { auth: { authorization: `Bearer ${fan.body.accessToken}` } });
      expect(stream.response.status).toBe(200);
      const addSong = async (title: string): Promise<string> => {
        const res = await api(base(), 'POST', `/albums/${albumId}/songs`, token, {
          title,
          durationMs: 180_000,
        });
        expect(res.status).toBe(201);
        return res.body.id;
      };
      const notifiedSong = async (timeoutMs: number): Promise<string> =>
        JSON.parse((await stream.nextNotification(timeoutMs)).data!).song.id;

      // Live before the outage: the bus is connected and reading.
      await waitHealthy(base());
      const before = await addSong('before the outage');
      expect(await notifiedSong(30_000)).toBe(before);

      const writers = new Writers(base, token).start();
      const poller = new ReadyPoller(base).start();
      await writers.until(30);
      await nats!.kill();
      const killedAt = Date.now();
      const during = [await addSong('while NATS is away 1'), await addSong('while NATS is away 2')];
      // Events travel through NATS only: none can arrive while it is away.
      await expect(stream.nextNotification(3_000)).rejects.toThrow(/no matching event/);
      const ackedWhileDown = writers.acked.filter((_, i) => writers.ackTimes[i]! >= killedAt).length;
      expect(server.alive).toBe(true);

      await nats!.start();
      const restartedAt = Date.now();
      const arrived = [await notifiedSong(60_000), await notifiedSong(30_000)];
      const deliveredAt = Date.now();
      const healthyAt = await waitHealthy(base());
      await writers.until(30);
      await writers.stop();
      await poller.stop();

      const lost = writers.acked.length - (await stored(writers.acked));
      report('nats killed (SIGKILL) for ~3 s and restarted', {
        'writes acknowledged': writers.acked.length,
        'acknowledged while NATS was down': ackedWhileDown,
        lost,
        'refused or failed': writers.refusedCount,
        'events raised while down, delivered after restart': `${arrived.length} in ${seconds(deliveredAt - restartedAt)}`,
        'healthy again after restart': seconds(healthyAt - restartedAt),
        '/health/ready answers not serving': poller.notServing,
      });
      expect(arrived.sort()).toEqual([...during].sort());
      expect(server.alive).toBe(true);
      expect(poller.degraded('events')).toBe(true);
      expect(poller.notServing).toBe(0);
      expect(writers.refused).toEqual(new Map());
      expect(ackedWhileDown).toBeGreaterThan(0);
      expect(lost).toBe(0);
      // Nothing raised before the outage comes twice.
      await expect(stream.nextNotification(1_000)).rejects.toThrow(/no matching event/);
      expect(stream.ended).toBe(false);
      stream.close();
    },
    180_000,
  );

  it('PostgreSQL connections terminated, then the server restarted, under load', async () => {
    const writers = new Writers(base, token).start(6);
    const poller = new ReadyPoller(base).start();
    await writers.until(50);
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    const terminated = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = 'backbeat'`,
    );
    await admin.end();
    await writers.until(50);
    expect(server.alive).toBe(true);

    postgres.stop('fast');
    const stoppedAt = Date.now();
    await sleep(3000);
    await postgres.start();
    const startedAt = Date.now();
    const readyAt = await waitReady(base());
    await writers.until(50);
    await writers.stop();
    await poller.stop();

    const lost = writers.acked.length - (await stored(writers.acked));
    report('postgres backends terminated, then stopped 3 s and started', {
      'backends terminated': terminated.rowCount ?? 0,
      'writes acknowledged': writers.acked.length,
      lost,
      '503 answers': writers.refused.get('503') ?? 0,
      'other failures': JSON.stringify(writers.unexpected(['503'])),
      'ready again after start': seconds(readyAt - startedAt),
      'first write acknowledged after start': seconds((writers.firstAckAfter(startedAt) ?? NaN) - startedAt),
      'writes stopped for': seconds((writers.firstAckAfter(stoppedAt) ?? NaN) - stoppedAt),
    });
    expect(server.alive).toBe(true);
    expect(writers.unexpected(['503'])).toEqual({});
    expect(poller.reported('database')).toBe(true);
    expect(lost).toBe(0);
    expect(await anonymousTitle()).toBe('v4');
  }, 120_000);

  it('SIGKILL of the server in the middle of writes', async () => {
    const writers = new Writers(base, token).start();
    await writers.until(100);
    await server.kill('SIGKILL');
    const killedAt = Date.now();
    const ackedBeforeKill = writers.acked.length;
    await server.start();
    const upAt = Date.now();
    await writers.until(30);
    await writers.stop();

    const lost = writers.acked.length - (await stored(writers.acked));
    report('server SIGKILLed mid-writes (PostgreSQL)', {
      'writes acknowledged': writers.acked.length,
      'acknowledged before the kill': ackedBeforeKill,
      lost,
      'restart took': seconds(upAt - killedAt),
    });
    expect(writers.unexpected(['network'])).toEqual({});
    expect(lost).toBe(0);
    expect(await anonymousTitle()).toBe('v4');
  }, 180_000);
});

describe('on embedded PGlite', () => {
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-faults-data-'));
    server = new ServerProcess(await freePort(), {
      DATA_DIR: dataDir,
      JWT_SECRET,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    await server.start();
  }, 180_000);

  afterAll(async () => {
    await server?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL of the server in the middle of writes loses no acknowledged write', async () => {
    const token = await signIn(server.base);
    const writers = new Writers(() => server.base, token).start();
    await writers.until(100);
    await server.kill('SIGKILL');
    const killedAt = Date.now();
    const ackedBeforeKill = writers.acked.length;
    // The dead server's DATA_DIR lock is taken over by the new one.
    await server.start();
    const upAt = Date.now();
    await writers.until(20);
    await writers.stop();

    let lost = 0;
    for (let i = 0; i < writers.acked.length; i += 20) {
      const found = await Promise.all(
        writers.acked.slice(i, i + 20).map((id) => api(server.base, 'GET', `/playlists/${id}`, token)),
      );
      lost += found.filter((r) => r.status !== 200).length;
    }
    report('server SIGKILLed mid-writes (PGlite)', {
      'writes acknowledged': writers.acked.length,
      'acknowledged before the kill': ackedBeforeKill,
      lost,
      'restart took': seconds(upAt - killedAt),
    });
    expect(writers.unexpected(['network'])).toEqual({});
    expect(lost).toBe(0);
  }, 240_000);
});
