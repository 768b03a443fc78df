import { randomUUID } from 'node:crypto';
import { and, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Executor } from './db.js';

/**
 * A durable job queue in the database: jobs are rows, written in the same transaction as the
 * change that asks for them, claimed with `FOR UPDATE SKIP LOCKED` under a lease that a running
 * job renews. A job whose process died (crash, restart, kill) is taken again when its lease runs
 * out; on the embedded database, where only this process can run jobs, at once on start.
 * Works the same on PGlite and PostgreSQL; no Redis needed (docs/architecture.md, "Jobs").
 */
export const JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const jobs = pgTable(
  'jobs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status').$type<JobStatus>().notNull().default('queued'),
    /** Higher runs first among due jobs (uploads before folder-import renditions). */
    priority: integer('priority').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(5),
    /** At most one queued or running job per key (e.g. one transcode per song). */
    uniqueKey: text('unique_key'),
    runAt: timestamp('run_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lockedBy: text('locked_by'),
    lockedUntil: timestamp('locked_until', { withTimezone: true, mode: 'date' }),
    lastError: text('last_error'),
    /** What the job's handler reported while running or at the end (progress, results). */
    progress: jsonb('progress'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('jobs_due_idx')
      .on(t.type, t.priority, t.runAt, t.id)
      .where(sql`${t.status} in ('queued', 'running')`),
    index('jobs_status_idx').on(t.status, t.id),
    uniqueIndex('jobs_unique_key_idx').on(t.uniqueKey).where(sql`${t.status} in ('queued', 'running')`),
  ],
);
export type JobRow = typeof jobs.$inferSelect;

export interface EnqueueOptions {
  priority?: number;
  runAt?: Date;
  maxAttempts?: number;
  /**
   * At most one queued or running job per key: a second enqueue with the same key replaces the
   * payload of a queued job (a newer upload wins) and leaves a running one alone.
   */
  uniqueKey?: string;
}

/**
 * A job enqueued with the `uniqueKey` of one still queued or running: a queued one takes the new
 * payload and time, a running one keeps its own (it is one job, not two).
 */
const SAME_KEY_REQUEUES = {
  target: jobs.uniqueKey,
  targetWhere: sql`${jobs.status} in ('queued', 'running')`,
  set: {
    payload: sql`case when ${jobs.status} = 'queued' then excluded.payload else ${jobs.payload} end`,
    runAt: sql`case when ${jobs.status} = 'queued' then excluded.run_at else ${jobs.runAt} end`,
  },
};

/**
 * Adds a job inside the caller's transaction, so it exists if and only if the change it belongs
 * to committed. Returns its id (the existing job's when `uniqueKey` matched one).
 */
export async function enqueueJob(
  tx: Executor,
  type: string,
  payload: unknown,
  options: EnqueueOptions = {},
): Promise<number> {
  const values = {
    type,
    payload,
    priority: options.priority ?? 0,
    maxAttempts: options.maxAttempts ?? 5,
    uniqueKey: options.uniqueKey ?? null,
    ...(options.runAt ? { runAt: options.runAt } : {}),
  };
  if (!options.uniqueKey) {
    const [row] = await tx.insert(jobs).values(values).returning({ id: jobs.id });
    return row?.id ?? 0;
  }
  const [row] = await tx
    .insert(jobs)
    .values(values)
    .onConflictDoUpdate(SAME_KEY_REQUEUES)
    .returning({ id: jobs.id });
  return row?.id ?? 0;
}

/**
 * `enqueueJob` for many jobs of one type in one statement (a bulk import's transcodes). Items
 * sharing a `uniqueKey` become one job, the last payload winning.
 */
export async function enqueueJobs(
  tx: Executor,
  type: string,
  items: readonly { payload: unknown; uniqueKey?: string }[],
  options: Omit<EnqueueOptions, 'uniqueKey'> = {},
): Promise<void> {
  const byKey = new Map<string, { payload: unknown; uniqueKey?: string }>();
  const plain: { payload: unknown; uniqueKey?: string }[] = [];
  for (const item of items) {
    if (item.uniqueKey) byKey.set(item.uniqueKey, item);
    else plain.push(item);
  }
  const rows = [...plain, ...byKey.values()].map((item) => ({
    type,
    payload: item.payload,
    priority: options.priority ?? 0,
    maxAttempts: options.maxAttempts ?? 5,
    uniqueKey: item.uniqueKey ?? null,
    ...(options.runAt ? { runAt: options.runAt } : {}),
  }));
  for (let i = 0; i < rows.length; i += 500) {
    await tx
      .insert(jobs)
      .values(rows.slice(i, i + 500))
      .onConflictDoUpdate(SAME_KEY_REQUEUES);
  }
}

/** Thrown by a handler for a failure that retrying cannot mend (a file ffmpeg cannot decode). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
  constructor(
    readonly code: string,
    message = code,
  ) {
    super(message);
  }
}

export interface JobContext<P> {
  id: number;
  payload: P;
  attempt: number;
  /** Records progress visible to admins; also renews the lease. */
  report(progress: unknown): Promise<void>;
  /** Aborted when the queue stops (shutdown): a handler should stop and leave the job to a restart. */
  signal: AbortSignal;
}

export interface JobHandler<P = unknown> {
  run(ctx: JobContext<P>): Promise<void>;
  /** Called when the job has failed for good (out of attempts or permanent), before it is marked failed. */
  onFailed?(payload: P, error: Error): Promise<void>;
  /** Jobs of this type at once in this process. */
  concurrency: number;
}

export interface JobQueueOptions {
  /** Time as the queue sees it; tests move it. */
  clock?: () => Date;
  pollMs?: number;
  leaseMs?: number;
  /** On the embedded database no other process can hold a job: take stale ones back at start. */
  exclusive?: boolean;
}

const BASE_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * Runs registered job types in this process: polls for due jobs (and wakes at once when this
 * process enqueues), keeps at most `concurrency` of each type running, retries failures with
 * exponential backoff up to `maxAttempts`, and renews the lease of each running job.
 */
export class JobQueue {
  private readonly handlers = new Map<string, JobHandler<never>>();
  private readonly running = new Map<string, Set<Promise<void>>>();
  private readonly owner = `${process.pid}-${randomUUID()}`;
  private readonly clock: () => Date;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private repoll = false;
  private started = false;
  private reclaimOnStart = false;
  private abort = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly log: FastifyBaseLogger,
    private readonly options: JobQueueOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  register<P>(type: string, handler: JobHandler<P>): void {
    this.handlers.set(type, handler as JobHandler<never>);
    this.running.set(type, new Set());
  }

  /** Starts polling; never throws (a database that is not there yet is retried by the polls). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reclaimOnStart = this.options.exclusive ?? false;
    this.abort = new AbortController();
    this.schedule(0);
  }

  /** Stops claiming, aborts running handlers and waits for them; their jobs run again later. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.polling;
    await Promise.allSettled([...this.running.values()].flatMap((set) => [...set]));
  }

  /** Looks for due jobs now (after an enqueue in this process, or a test moving the clock). */
  wake(): void {
    if (!this.started) return;
    if (this.polling) {
      this.repoll = true;
      return;
    }
    this.schedule(0);
  }

  /** Resolves when no job of these types is queued and due or running (tests, CLI). */
  async idle(types: string[] = [...this.handlers.keys()], timeoutMs = 60_000): Promise<void> {
    // How long to wait is real elapsed time (monotonic); which jobs are due is the clock's.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const [row] = await this.db
        .select({ n: count() })
        .from(jobs)
        .where(
          and(
            inArray(jobs.type, types),
            sql`(${jobs.status} = 'running' or (${jobs.status} = 'queued' and ${jobs.runAt} <= ${this.clock()}))`,
          ),
        );
      if (!row?.n) return;
      if (performance.now() > deadline) throw new Error(`jobs still pending after ${timeoutMs} ms`);
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (!this.started) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((error) => this.log.error({ err: error }, 'job queue poll failed'))
        .finally(() => {
          this.polling = undefined;
          const again = this.repoll;
          this.repoll = false;
          this.schedule(again ? 0 : this.pollMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.reclaimOnStart) {
      await this.db
        .update(jobs)
        .set({ status: 'queued', lockedBy: null, lockedUntil: null })
        .where(eq(jobs.status, 'running'));
      this.reclaimOnStart = false;
    }
    for (const [type, handler] of this.handlers) {
      const active = this.running.get(type) as Set<Promise<void>>;
      const free = handler.concurrency - active.size;
      if (free <= 0 || !this.started) continue;
      for (const row of await this.claim(type, free)) {
        const task: Promise<void> = this.execute(handler, row).finally(() => {
          active.delete(task);
          this.wake();
        });
        active.add(task);
      }
    }
  }

  /** Takes up to `n` due jobs of `type`: queued ones whose time has come, or running ones whose lease ran out. */
  private async claim(type: string, n: number): Promise<JobRow[]> {
    const now = this.clock();
    const due = this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(
        and(
          eq(jobs.type, type),
          sql`((${jobs.status} = 'queued' and ${jobs.runAt} <= ${now}) or (${jobs.status} = 'running' and ${jobs.lockedUntil} < ${now}))`,
        ),
      )
      .orderBy(desc(jobs.priority), jobs.runAt, jobs.id)
      .limit(n)
      .for('update', { skipLocked: true });
    const claimed = await this.db
      .update(jobs)
      .set({
        status: 'running',
        lockedBy: this.owner,
        lockedUntil: new Date(now.getTime() + this.leaseMs),
        attempts: sql`${jobs.attempts} + 1`,
        startedAt: now,
      })
      .where(inArray(jobs.id, due))
      .returning();
    // RETURNING has no order: start them in the order they were chosen.
    return claimed.sort(
      (a, b) => b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || a.id - b.id,
    );
  }

  private async execute(handler: JobHandler<never>, row: JobRow): Promise<void> {
    const mine = and(eq(jobs.id, row.id), eq(jobs.lockedBy, this.owner));
    const renew = () =>
      this.db
        .update(jobs)
        .set({ lockedUntil: new Date(this.clock().getTime() + this.leaseMs) })
        .where(mine);
    const heartbeat = setInterval(() => {
      renew().catch((error) => this.log.warn({ err: error, jobId: row.id }, 'job lease renewal failed'));
    }, this.leaseMs / 3);
    heartbeat.unref();
    try {
      await handler.run({
        id: row.id,
        payload: row.payload as never,
        attempt: row.attempts,
        signal: this.abort.signal,
        report: async (progress) => {
          await this.db
            .update(jobs)
            .set({ progress, lockedUntil: new Date(this.clock().getTime() + this.leaseMs) })
            .where(mine);
        },
      });
      await this.db
        .update(jobs)
        .set({ status: 'done', finishedAt: this.clock(), lockedBy: null, lockedUntil: null, lastError: null })
        .where(mine);
    } catch (error) {
      await this.fail(handler, row, error as Error);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async fail(handler: JobHandler<never>, row: JobRow, error: Error): Promise<void> {
    const mine = and(eq(jobs.id, row.id), eq(jobs.lockedBy, this.owner));
    if (this.abort.signal.aborted) {
      // Stopped mid-run (shutdown): the job is not at fault; it runs again on the next start.
      await this.db
        .update(jobs)
        .set({
          status: 'queued',
          attempts: sql`greatest(${jobs.attempts} - 1, 0)`,
          lockedBy: null,
          lockedUntil: null,
        })
        .where(mine)
        .catch(() => {});
      return;
    }
    const permanent = error instanceof PermanentJobError;
    const lastError = permanent ? error.code : `${error.name}: ${error.message}`.slice(0, 2000);
    if (!permanent && row.attempts < row.maxAttempts) {
      const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (row.attempts - 1));
      this.log.warn(
        { err: error, jobId: row.id, type: row.type, attempt: row.attempts },
        'job failed; will retry',
      );
      await this.db
        .update(jobs)
        .set({
          status: 'queued',
          runAt: new Date(this.clock().getTime() + backoff),
          lockedBy: null,
          lockedUntil: null,
          lastError,
        })
        .where(mine);
      return;
    }
    this.log.error({ err: error, jobId: row.id, type: row.type }, 'job failed for good');
    // The hook runs while the job still counts as running, so whoever sees it `failed` (an
    // admin, `idle()`) also sees what the hook wrote (a song's `audio.status: failed`).
    await handler.onFailed?.(row.payload as never, error).catch((hookError: unknown) => {
      this.log.error({ err: hookError, jobId: row.id }, 'job failure hook failed');
    });
    await this.db
      .update(jobs)
      .set({ status: 'failed', finishedAt: this.clock(), lockedBy: null, lockedUntil: null, lastError })
      .where(mine);
  }
}

/** Jobs as admins list them, newest first. */
export async function listJobs(
  db: Executor,
  filter: { status?: JobStatus; type?: string; limit: number; offset: number },
): Promise<{ rows: JobRow[]; total: number }> {
  const where = and(
    filter.status ? eq(jobs.status, filter.status) : undefined,
    filter.type ? eq(jobs.type, filter.type) : undefined,
  );
  const [rows, [totals]] = await Promise.all([
    db.select().from(jobs).where(where).orderBy(desc(jobs.id)).limit(filter.limit).offset(filter.offset),
    db.select({ n: count() }).from(jobs).where(where),
  ]);
  return { rows, total: totals?.n ?? 0 };
}
