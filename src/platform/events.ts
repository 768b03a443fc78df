import { and, asc, eq, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Executor } from './db.js';

/** Every domain event, by type. Payloads carry ids only: handlers read current state themselves. */
export interface EventMap {
  'catalog.song_added': { songId: string; albumId: string; artistId: string };
  'catalog.song_updated': { songId: string; albumId: string; artistId: string };
  'catalog.song_deleted': { songId: string; albumId: string; artistId: string };
  'catalog.album_added': { albumId: string; artistId: string };
  'catalog.album_updated': { albumId: string; artistId: string };
  'catalog.album_deleted': { albumId: string; artistId: string };
  /** A listening event went live (its host's followers are notified) or ended or was cancelled. */
  'live.event_started': { eventId: string; artistId: string };
  'live.event_ended': { eventId: string; artistId: string };
  /**
   * Sessions of a user ended (logout, password change, refresh-token reuse) or the user was
   * blocked or deleted: what holds a connection open for them (chat sockets) checks it again.
   */
  'identity.sessions_ended': { userId: string };
}
export type EventType = keyof EventMap;

export interface DomainEvent<K extends EventType = EventType> {
  /** Position in the outbox: unique and increasing, so handlers can deduplicate by it. */
  id: number;
  type: K;
  payload: EventMap[K];
  occurredAt: Date;
}

export const outboxEvents = pgTable(
  'outbox_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    availableAt: timestamp('available_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('outbox_events_pending_idx').on(t.availableAt, t.id).where(sql`${t.publishedAt} is null`),
    index('outbox_events_published_idx').on(t.publishedAt),
  ],
);

/**
 * Records an event in the outbox inside the caller's transaction: it exists if and only if the
 * change it describes committed. The relay publishes it after commit.
 */
export async function recordEvent<K extends EventType>(
  tx: Executor,
  type: K,
  payload: EventMap[K],
): Promise<void> {
  await tx.insert(outboxEvents).values({ type, payload });
}

export type EventHandler<K extends EventType> = (event: DomainEvent<K>) => Promise<void>;

/**
 * Who handles an event. `every-process`: each running process, for what lives in its memory
 * (open SSE streams, socket.io rooms, in-process caches). `{ group }`: one process among those
 * running background work, once per group, for what changes shared state (database rows).
 */
export type Delivery = 'every-process' | { group: string };

/**
 * Where published events go. In one process a local bus calls handlers directly; the NATS bus
 * takes its place across processes without the modules noticing, since they only `subscribe`
 * and `recordEvent`.
 */
export interface EventBus {
  publish(event: DomainEvent): Promise<void>;
  subscribe<K extends EventType>(type: K, handler: EventHandler<K>, delivery: Delivery): void;
  /** Starts delivering (after every module has subscribed). */
  start(): Promise<void>;
  close(): Promise<void>;
  /** A bus with a server behind it (NATS) rejects while that server does not answer. */
  ping?(): Promise<void>;
  /**
   * A bus across processes: sends cache tags to every other process (at most once: a message
   * lost while the server is away leaves entries there until their TTL), and takes theirs.
   */
  broadcastInvalidation?(tags: string[]): void;
  onInvalidation?(handler: (tags: string[]) => void): void;
}

/** One process is every process and every group: each handler runs for each event. */
export class LocalEventBus implements EventBus {
  private readonly handlers = new Map<EventType, EventHandler<EventType>[]>();

  subscribe<K extends EventType>(type: K, handler: EventHandler<K>, _delivery: Delivery): void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as unknown as EventHandler<EventType>);
    this.handlers.set(type, list);
  }

  /** Runs every handler; a failure rejects so the relay retries the event (handlers are idempotent). */
  async publish(event: DomainEvent): Promise<void> {
    const results = await Promise.allSettled((this.handlers.get(event.type) ?? []).map((h) => h(event)));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.clear();
  }
}

const BATCH = 100;
const MAX_BACKOFF_MS = 60_000;
/** How long a claimed batch is reserved for its relay before another may take it over. */
const LEASE_SECONDS = 60;
const RETENTION_DAYS = 7;

/**
 * Moves committed outbox rows to the bus, at least once, in id order per batch. Batches are
 * claimed with SKIP LOCKED and a lease, so several nodes can relay one outbox without double work.
 * Its times (due, lease, a failed delivery's backoff, published, pruned) are all the database's
 * `now()`: a row's `available_at` is stamped by the database on insert, in the writer's
 * transaction, and mixing another clock into the comparison would let two clocks disagree (a
 * process behind the database would hold back new events; a test clock ahead would park a retry).
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private stopped = false;
  private ticks = 0;

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly log: FastifyBaseLogger,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Publishes everything committed so far, now (a write may call it after its commit). */
  async drain(): Promise<void> {
    if (this.running) {
      // The pass under way may have read the outbox before the caller's commit: ask for one more.
      this.rerun = true;
      return this.running;
    }
    this.running = this.relayAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        await this.drain();
        if (++this.ticks % 6000 === 0) await this.prune();
      } catch (error) {
        this.log.error({ err: error }, 'outbox relay failed');
      }
      this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async relayAll(): Promise<void> {
    do {
      this.rerun = false;
      while ((await this.relayBatch()) === BATCH) {}
    } while (this.rerun);
  }

  /**
   * Claims a batch by leasing it in one statement, then publishes outside any transaction:
   * handlers may query the database themselves (PGlite has one connection, so a handler's own
   * query would otherwise wait behind the claim), and a relay that dies mid-batch only delays
   * its events until the lease runs out.
   */
  private async relayBatch(): Promise<number> {
    const due = this.db
      .select({ id: outboxEvents.id })
      .from(outboxEvents)
      .where(and(isNull(outboxEvents.publishedAt), lte(outboxEvents.availableAt, sql`now()`)))
      .orderBy(asc(outboxEvents.id))
      .limit(BATCH)
      .for('update', { skipLocked: true });
    const claimed = await this.db
      .update(outboxEvents)
      .set({ availableAt: sql`now() + make_interval(secs => ${LEASE_SECONDS})` })
      .where(inArray(outboxEvents.id, due))
      .returning();
    claimed.sort((a, b) => a.id - b.id);
    // Published events are marked in one statement after the batch, not one each: a library
    // import records an event per song, and a statement per event was most of the statements
    // (and of the garbage) of a scan on PGlite. Should the process stop before the mark, the
    // batch is published again once its lease runs out, which at-least-once delivery allows.
    const published: number[] = [];
    for (const row of claimed) {
      const event = {
        id: row.id,
        type: row.type as EventType,
        payload: row.payload,
        occurredAt: row.createdAt,
      };
      try {
        await this.bus.publish(event as DomainEvent);
        published.push(row.id);
      } catch (error) {
        const backoffMs = Math.min(MAX_BACKOFF_MS, 500 * 2 ** row.attempts);
        this.log.error({ err: error, eventId: row.id, type: row.type }, 'event handler failed; will retry');
        await this.db
          .update(outboxEvents)
          .set({
            attempts: row.attempts + 1,
            availableAt: sql`now() + make_interval(secs => ${backoffMs / 1000})`,
          })
          .where(eq(outboxEvents.id, row.id));
      }
    }
    if (published.length) {
      await this.db
        .update(outboxEvents)
        .set({ publishedAt: sql`now()` })
        .where(inArray(outboxEvents.id, published));
    }
    return claimed.length;
  }

  private async prune(): Promise<void> {
    await this.db
      .delete(outboxEvents)
      .where(lt(outboxEvents.publishedAt, sql`now() - make_interval(days => ${RETENTION_DAYS})`));
  }
}
