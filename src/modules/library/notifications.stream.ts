import type { ServerResponse } from 'node:http';
import type { AuthUser } from '../../platform/auth.js';
import type { Clock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';

/** Open streams one user may hold in one process (tabs, devices); more is a 429. */
export const MAX_STREAMS_PER_USER = 5;
/**
 * Open streams one process holds for everyone: each costs a socket and a little memory, and
 * many accounts could otherwise exhaust the process's file descriptors. More is a 503.
 */
export const MAX_STREAMS_PER_PROCESS = 10_000;
/** How often the sessions behind open streams are checked (logout, block, deletion elsewhere). */
export const SESSION_CHECK_MS = 15_000;
/** Longest delay setTimeout takes; a later token expiry is caught by the session checks. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Proxies drop idle connections after 30-60 s; a comment line every 15 s keeps them open. */
export const HEARTBEAT_MS = 15_000;
/** A client this far behind is dropped; it reconnects with Last-Event-ID and misses nothing. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Ids remembered per stream to skip repeats (replay overlapping live, at-least-once events). */
const REMEMBERED_IDS = 1000;
/** Reconnect delay an EventSource uses after a drop. */
const RETRY_MS = 2000;

export interface StreamEvent {
  id: string;
}

/**
 * One Server-Sent Events response. Until `goLive`, events pushed to it wait in memory, so the
 * ones that arrive while the replay of missed events is being read are neither lost nor sent
 * out of order.
 */
export class StreamConnection<E extends StreamEvent> {
  private pending: E[] | null = [];
  private readonly sent = new Set<string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly user: AuthUser,
    /** When the access token that opened the stream expires (on `clock`): the stream ends then. */
    readonly expiresAtMs: number,
    private readonly raw: ServerResponse,
    private readonly clock: Clock,
  ) {
    this.scheduleExpiry();
  }

  /**
   * Ends the stream when its token expires on the clock. The timer waits the time left on the
   * clock; should the clock not have got there when it fires (a clock a test holds, or one set
   * back), it waits again for what is left. A clock moved past the expiry is caught sooner by
   * the session checks, which end expired streams.
   */
  private scheduleExpiry(): void {
    const left = this.expiresAtMs - this.clock().getTime();
    if (left > MAX_TIMER_MS) return;
    this.expiry = setTimeout(() => (this.expired ? this.end() : this.scheduleExpiry()), Math.max(0, left));
    this.expiry.unref();
  }

  get userId(): string {
    return this.user.id;
  }

  get expired(): boolean {
    return this.clock().getTime() >= this.expiresAtMs;
  }

  get open(): boolean {
    return !this.raw.destroyed && !this.raw.writableEnded;
  }

  /** Sends the status line and headers now (so the client knows it is connected) and starts heartbeats. */
  start(headers: Record<string, string | number | string[]>, heartbeatMs: number): void {
    this.raw.writeHead(200, headers);
    this.raw.write(`retry: ${RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => {
      if (this.open) this.raw.write(': heartbeat\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  push(event: E): void {
    if (this.pending) this.pending.push(event);
    else this.write(event);
  }

  /** Writes one `notification` event, unless this stream already carried it. */
  write(event: E): void {
    if (!this.open || this.sent.has(event.id)) return;
    this.sent.add(event.id);
    if (this.sent.size > REMEMBERED_IDS) this.sent.delete(this.sent.values().next().value as string);
    this.raw.write(`id: ${event.id}\nevent: notification\ndata: ${JSON.stringify(event)}\n\n`);
    if (this.raw.writableLength > MAX_BUFFERED_BYTES) this.raw.destroy();
  }

  /** Replay done: flush what arrived meanwhile and write live events as they come. */
  goLive(): void {
    const pending = this.pending ?? [];
    this.pending = null;
    for (const event of pending) this.write(event);
  }

  stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.expiry);
  }

  end(): void {
    this.stopTimers();
    if (this.open) this.raw.end();
  }
}

/**
 * The streams open in this process, by user. The event bus handler looks up who is connected
 * here and pushes to them; other processes do the same for their own connections.
 */
export class StreamHub<E extends StreamEvent> {
  private readonly byUser = new Map<string, Set<StreamConnection<E>>>();
  private count = 0;

  constructor(
    /** Read on every `add`, so tests and operators may change them on a running hub. */
    readonly limits: { maxPerUser: number; maxPerProcess: number },
    /** Business time, on which streams expire with the tokens that opened them. */
    private readonly clock: Clock,
  ) {}

  /**
   * Registers a stream for `user` on `raw`, synchronously, so concurrent requests cannot
   * overrun the limits. It leaves the hub when its connection closes, however that happens,
   * and ends when the access token that opened it expires.
   */
  add(user: AuthUser, expiresAtMs: number, raw: ServerResponse): StreamConnection<E> {
    const { maxPerUser, maxPerProcess } = this.limits;
    const mine = this.byUser.get(user.id) ?? new Set<StreamConnection<E>>();
    if (mine.size >= maxPerUser) {
      throw new AppError(
        429,
        'TOO_MANY_STREAMS',
        'Too many requests',
        `At most ${maxPerUser} notification streams may be open at once; close one first`,
        undefined,
        { 'retry-after': '5' },
      );
    }
    if (this.count >= maxPerProcess) {
      throw new AppError(
        503,
        'STREAMS_EXHAUSTED',
        'Service unavailable',
        'This server holds as many notification streams as it can; retry later',
        undefined,
        { 'retry-after': '30' },
      );
    }
    const connection = new StreamConnection<E>(user, expiresAtMs, raw, this.clock);
    mine.add(connection);
    this.byUser.set(user.id, mine);
    this.count++;
    raw.once('close', () => this.remove(connection));
    return connection;
  }

  remove(connection: StreamConnection<E>): void {
    connection.stopTimers();
    const mine = this.byUser.get(connection.userId);
    if (!mine?.delete(connection)) return;
    this.count--;
    if (!mine.size) this.byUser.delete(connection.userId);
  }

  get size(): number {
    return this.count;
  }

  userIds(): string[] {
    return [...this.byUser.keys()];
  }

  connections(userId?: string): StreamConnection<E>[] {
    if (userId !== undefined) return [...(this.byUser.get(userId) ?? [])];
    return [...this.byUser.values()].flatMap((mine) => [...mine]);
  }

  /** Ends a stream whose session or token no longer holds. */
  close(connection: StreamConnection<E>): void {
    connection.end();
    this.remove(connection);
  }

  push(userId: string, event: E): void {
    for (const connection of this.byUser.get(userId) ?? []) connection.push(event);
  }

  /** Ends every stream, so shutting down does not wait for clients to hang up. */
  closeAll(): void {
    for (const mine of [...this.byUser.values()]) {
      for (const connection of [...mine]) {
        connection.end();
        this.remove(connection);
      }
    }
  }
}
