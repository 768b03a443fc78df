import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis, RedisOptions } from 'ioredis';

/**
 * Redis is an accelerator, never a dependency a request must wait for: commands time out
 * quickly, and while Redis is away (down, restarting, frozen) the cache and the rate limiter
 * fall back to their in-process versions. `RedisLink` is the one place that decides whether
 * Redis is usable, for everything that shares one connection.
 */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 1000;
const PROBE_INTERVAL_MS = 1000;
/** How long a starting server waits for Redis before it starts on the fallbacks. */
const FIRST_CONNECT_WAIT_MS = 2000;

/** Runs when Redis becomes usable; `first` is false after an outage (or a Redis restart). */
export type RecoveryStep = (redis: Redis, first: boolean) => Promise<void>;

export class RedisLink {
  private up = false;
  private connectedBefore = false;
  private recovering: Promise<void> | undefined;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly steps: RecoveryStep[] = [];
  private readonly downListeners: (() => void)[] = [];

  constructor(readonly redis: Redis) {
    redis.on('ready', () => void this.recover());
    redis.on('close', () => this.markDown());
    // disconnect() by its owner: no reconnect will come, so nothing to probe for.
    redis.on('end', () => this.stop());
    // A connection made elsewhere may be up already: its 'ready' has passed.
    if (redis.status === 'ready') void this.recover();
  }

  /** True while Redis answers; false sends callers to their fallback at once. */
  get available(): boolean {
    return this.up;
  }

  /** `step` must succeed before Redis is used again after a connect (e.g. a new cache epoch). */
  onRecovery(step: RecoveryStep): void {
    this.steps.push(step);
  }

  /** Called when Redis goes away, before any fallback serves. */
  onDown(listener: () => void): void {
    this.downListeners.push(listener);
  }

  /** A command failed (timeout, lost connection): use the fallbacks until Redis answers again. */
  failed(): void {
    this.markDown();
  }

  /** Resolves once Redis is usable, or after `timeoutMs` (the fallbacks serve meanwhile). */
  async whenUp(timeoutMs = FIRST_CONNECT_WAIT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.up && !this.closed && performance.now() < deadline) await sleep(50);
  }

  close(): void {
    this.stop();
    this.redis.disconnect();
  }

  private stop(): void {
    this.closed = true;
    this.markDown();
    clearInterval(this.probe);
    this.probe = undefined;
  }

  private markDown(): void {
    if (this.up) {
      this.up = false;
      for (const listener of this.downListeners) listener();
    }
    // A frozen Redis keeps its connection (no 'ready' will come): probe it until it answers.
    if (!this.probe && !this.closed) {
      this.probe = setInterval(() => {
        if (this.redis.status === 'ready') void this.recover();
      }, PROBE_INTERVAL_MS);
      this.probe.unref();
    }
  }

  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      try {
        await this.redis.ping();
        for (const step of this.steps) await step(this.redis, !this.connectedBefore);
        this.connectedBefore = true;
        if (this.closed) return;
        this.up = true;
        clearInterval(this.probe);
        this.probe = undefined;
      } catch {
        // Still away; the probe or the next 'ready' tries again.
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }
}

/** One link per connection, shared by the cache and the rate limiter. */
const links = new WeakMap<Redis, RedisLink>();

export function linkOf(redis: Redis): RedisLink {
  let link = links.get(redis);
  if (!link) {
    link = new RedisLink(redis);
    links.set(redis, link);
  }
  return link;
}

const require = createRequire(import.meta.url);

/** A Redis client; ioredis loads with the first one, so a server without REDIS_URL never loads it. */
export function newRedis(url: string, options: RedisOptions = {}): Redis {
  const { Redis: Client } = require('ioredis') as typeof import('ioredis');
  return new Client(url, options);
}

/**
 * A Redis connection that fails fast: commands time out after half a second, and none wait
 * in a queue while the connection is down (callers use their fallback instead).
 */
export function connectRedis(url: string, keyPrefix = 'backbeat:'): Redis {
  const redis = newRedis(url, {
    keyPrefix,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false,
  });
  // Connection errors surface through commands (and /health/ready); do not crash on the event.
  redis.on('error', () => {});
  linkOf(redis);
  return redis;
}

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface StoreLike {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void;
  read(key: string, cb: Callback, timeWindow: number, max: number): void;
  child(routeOptions: unknown): StoreLike;
}
type StoreCtor<A extends unknown[]> = new (...args: A) => StoreLike;

const LocalStore: StoreCtor<[boolean, boolean]> = require('@fastify/rate-limit/store/LocalStore.js');
const RedisStore: StoreCtor<
  [boolean, boolean, Redis, string]
> = require('@fastify/rate-limit/store/RedisStore.js');

/**
 * A rate-limit store for `@fastify/rate-limit`: the shared Redis counters while Redis answers,
 * this process's own counters while it does not, so an outage neither fails requests nor
 * turns the limits off. (Per process, the limit then applies per node rather than cluster-wide.)
 */
export function failoverRateLimitStore(redis: Redis, nameSpace: string): FastifyRateLimitStoreCtor {
  const link = linkOf(redis);
  class FailoverStore implements FastifyRateLimitStore {
    constructor(
      options: { continueExceeding?: boolean; exponentialBackoff?: boolean },
      private readonly shared: StoreLike = new RedisStore(
        options.continueExceeding ?? false,
        options.exponentialBackoff ?? false,
        redis,
        nameSpace,
      ),
      private readonly local: StoreLike = new LocalStore(
        options.continueExceeding ?? false,
        options.exponentialBackoff ?? false,
      ),
    ) {}

    incr(key: string, cb: Callback, timeWindow: number, max: number): void {
      this.use('incr', key, cb, timeWindow, max);
    }

    read(key: string, cb: Callback, timeWindow: number, max: number): void {
      this.use('read', key, cb, timeWindow, max);
    }

    child(routeOptions: never): FastifyRateLimitStore {
      return new FailoverStore({}, this.shared.child(routeOptions), this.local.child(routeOptions));
    }

    private use(method: 'incr' | 'read', key: string, cb: Callback, timeWindow: number, max: number): void {
      if (!link.available) {
        this.local[method](key, cb, timeWindow, max);
        return;
      }
      this.shared[method](
        key,
        (error, result) => {
          if (!error) return cb(null, result);
          link.failed();
          this.local[method](key, cb, timeWindow, max);
        },
        timeWindow,
        max,
      );
    }
  }
  return FailoverStore as unknown as FastifyRateLimitStoreCtor;
}

/** A fresh random value, for the cache epoch. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
