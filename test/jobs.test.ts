import { eq } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/platform/db.js';
import { enqueueJob, JobQueue, jobs, PermanentJobError } from '../src/platform/jobs.js';
import { buildTestApp, type TestApp } from './helpers.js';

/**
 * The durable queue on a real database (PGlite, or PostgreSQL with TEST_DATABASE_URL), driven
 * through its own surface with a clock the test moves: no waiting for backoffs or leases.
 */
let t: TestApp;
let db: Db;
const silent = { warn() {}, error() {}, info() {} } as unknown as FastifyBaseLogger;
const queues: JobQueue[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  db = t.database.db;
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.stop()));
  await t.close();
});

/** A clock that stands still until the test moves it (jobs are enqueued at its time). */
function clockAt(start = Date.now()) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

function queue(clock: () => Date, options: { exclusive?: boolean; leaseMs?: number } = {}) {
  const q = new JobQueue(db, silent, { clock, pollMs: 20, ...options });
  queues.push(q);
  return q;
}

const job = async (id: number) => (await db.select().from(jobs).where(eq(jobs.id, id)))[0]!;

async function until(check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('durable job queue', () => {
  it('retries a failing job with growing backoff, then succeeds', async () => {
    const clock = clockAt();
    const q = queue(clock.now);
    let runs = 0;
    q.register<{ n: number }>('test.flaky', {
      concurrency: 1,
      async run() {
        runs += 1;
        if (runs < 3) throw new Error(`boom ${runs}`);
      },
    });
    const id = await enqueueJob(db, 'test.flaky', { n: 1 }, { maxAttempts: 5, runAt: clock.now() });
    q.start();
    await until(async () => (await job(id)).attempts === 1 && (await job(id)).status === 'queued');
    const first = await job(id);
    expect(first.lastError).toBe('Error: boom 1');
    expect(first.runAt.getTime() - clock.now().getTime()).toBe(1000);
    // Not due yet: nothing runs until the clock passes the backoff.
    await new Promise((r) => setTimeout(r, 100));
    expect(runs).toBe(1);
    clock.advance(1000);
    q.wake();
    await until(async () => (await job(id)).attempts === 2 && (await job(id)).status === 'queued');
    expect((await job(id)).runAt.getTime() - clock.now().getTime()).toBe(2000);
    clock.advance(2000);
    q.wake();
    await until(async () => (await job(id)).status === 'done');
    expect(runs).toBe(3);
    expect((await job(id)).lastError).toBeNull();
    await q.stop();
  });

  it('fails a job for good on a permanent error or when out of attempts, and calls onFailed before it reads failed', async () => {
    const clock = clockAt();
    const q = queue(clock.now);
    const failed: string[] = [];
    q.register<{ kind: string }>('test.doomed', {
      concurrency: 2,
      async run({ payload }) {
        if (payload.kind === 'permanent') throw new PermanentJobError('BAD_FILE');
        throw new Error('transient');
      },
      async onFailed(payload, error) {
        // A slow hook: whoever sees the job `failed` must also see what the hook did.
        await new Promise((resolve) => setTimeout(resolve, 150));
        failed.push(`${payload.kind}:${error.message}`);
      },
    });
    const permanent = await enqueueJob(db, 'test.doomed', { kind: 'permanent' }, { runAt: clock.now() });
    const exhausted = await enqueueJob(
      db,
      'test.doomed',
      { kind: 'exhausted' },
      { maxAttempts: 1, runAt: clock.now() },
    );
    q.start();
    await until(
      async () => (await job(permanent)).status === 'failed' && (await job(exhausted)).status === 'failed',
    );
    expect((await job(permanent)).lastError).toBe('BAD_FILE');
    expect((await job(permanent)).attempts).toBe(1);
    expect((await job(exhausted)).lastError).toBe('Error: transient');
    expect(failed.sort()).toEqual(['exhausted:transient', 'permanent:BAD_FILE']);
    await q.stop();
  });

  it('never runs more than `concurrency` jobs of a type at once, higher priority first', async () => {
    const clock = clockAt();
    const q = queue(clock.now);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    q.register<{ i: number }>('test.bounded', {
      concurrency: 2,
      async run({ payload }) {
        order.push(payload.i);
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 30));
        running -= 1;
      },
    });
    for (let i = 0; i < 6; i++)
      await enqueueJob(db, 'test.bounded', { i }, { priority: i === 5 ? 10 : 0, runAt: clock.now() });
    q.start();
    await q.idle(['test.bounded']);
    expect(peak).toBe(2);
    expect(order).toHaveLength(6);
    expect(order[0]).toBe(5);
    await q.stop();
  });

  it('keeps one queued job per unique key, the newest payload winning', async () => {
    const first = await enqueueJob(db, 'test.unique', { v: 1 }, { uniqueKey: 'song:1' });
    const second = await enqueueJob(db, 'test.unique', { v: 2 }, { uniqueKey: 'song:1' });
    expect(second).toBe(first);
    expect((await job(first)).payload).toEqual({ v: 2 });
    const rows = await db.select().from(jobs).where(eq(jobs.uniqueKey, 'song:1'));
    expect(rows).toHaveLength(1);
  });

  it('runs a job again when its process died: after the lease, or at once on an exclusive start', async () => {
    const clock = clockAt();
    // A process that claimed the job and died: the row says running, under a lease nobody renews.
    const id = await enqueueJob(db, 'test.crash', {}, { runAt: clock.now() });
    await db
      .update(jobs)
      .set({
        status: 'running',
        attempts: 1,
        lockedBy: 'dead-process',
        lockedUntil: new Date(clock.now().getTime() + 5_000),
      })
      .where(eq(jobs.id, id));

    let finished = 0;
    const survivor = queue(clock.now, { leaseMs: 5_000 });
    survivor.register('test.crash', {
      concurrency: 1,
      async run() {
        finished += 1;
      },
    });
    survivor.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(finished).toBe(0);
    clock.advance(5_001);
    survivor.wake();
    await until(async () => (await job(id)).status === 'done');
    expect(finished).toBe(1);
    expect((await job(id)).attempts).toBe(2);
    await survivor.stop();

    // On the embedded database a start takes back every running job at once.
    const again = await enqueueJob(db, 'test.crash', {}, { runAt: clock.now() });
    await db
      .update(jobs)
      .set({ status: 'running', lockedBy: 'gone', lockedUntil: new Date(clock.now().getTime() + 60_000) })
      .where(eq(jobs.id, again));
    const restarted = queue(clock.now, { exclusive: true });
    restarted.register('test.crash', { concurrency: 1, async run() {} });
    restarted.start();
    await until(async () => (await job(again)).status === 'done');
    await restarted.stop();
  });
});
