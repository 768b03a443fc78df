import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * The cache port. Values are plain JSON data. Invalidation is by version counters ("tags"):
 * a cached read's key includes the current version of every tag it depends on, and a write
 * bumps the versions of the tags it touches, so stale entries are never read again and
 * simply age out. Counters live in the cache itself, so with Redis every node sees a bump.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSec: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** Current values of version counters (0 when never bumped). */
  versions(tags: string[]): Promise<number[]>;
  bump(tags: string[]): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly entries: LRUCache<string, { value: unknown }>;
  // Versions are never evicted: losing one would let an older entry with the same version be read.
  private readonly counters = new Map<string, number>();

  constructor(maxEntries = 10_000) {
    this.entries = new LRUCache({ max: maxEntries, ttlAutopurge: false });
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.entries.get(key)?.value as T | undefined;
  }

  async set(key: string, value: unknown, ttlSec: number): Promise<void> {
    this.entries.set(key, { value }, { ttl: ttlSec * 1000 });
  }

  async del(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async versions(tags: string[]): Promise<number[]> {
    return tags.map((tag) => this.counters.get(tag) ?? 0);
  }

  async bump(tags: string[]): Promise<void> {
    for (const tag of tags) this.counters.set(tag, (this.counters.get(tag) ?? 0) + 1);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }
}

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;

  constructor(readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(`c:${key}`);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, ttlSec: number): Promise<void> {
    await this.redis.set(`c:${key}`, JSON.stringify(value), 'EX', ttlSec);
  }

  async del(keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => `c:${k}`));
  }

  async versions(tags: string[]): Promise<number[]> {
    if (!tags.length) return [];
    const values = await this.redis.mget(...tags.map((t) => `v:${t}`));
    return values.map((v) => Number(v ?? 0));
  }

  async bump(tags: string[]): Promise<void> {
    if (!tags.length) return;
    const pipeline = this.redis.pipeline();
    for (const tag of tags) pipeline.incr(`v:${tag}`);
    await pipeline.exec();
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** A Redis connection that fails fast instead of queueing commands forever while Redis is down. */
export function connectRedis(url: string, keyPrefix = 'backbeat:'): Redis {
  const redis = new Redis(url, {
    keyPrefix,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    lazyConnect: false,
  });
  // Connection errors surface through commands (and /health/ready); do not crash on the event.
  redis.on('error', () => {});
  return redis;
}

/**
 * Read-through caching over a `CacheStore`, with tag versions and single flight: concurrent
 * misses for one key in this process share one load.
 */
export class Cache {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    readonly store: CacheStore,
    readonly defaultTtlSec: number,
  ) {}

  async read<T>(
    options: { key: string; tags: string[]; ttlSec?: number },
    load: () => Promise<T>,
  ): Promise<T> {
    const versions = await this.store.versions(options.tags);
    const key = `${options.key}@${versions.join('.')}`;
    const hit = await this.store.get<T>(key);
    if (hit !== undefined) return hit;
    const pending = this.inflight.get(key);
    if (pending) return pending as Promise<T>;
    const loading = (async () => {
      try {
        const value = await load();
        await this.store.set(key, value, options.ttlSec ?? this.defaultTtlSec);
        return value;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, loading);
    return loading;
  }

  /** Makes every cached read that depends on one of `tags` miss from now on. */
  invalidate(...tags: string[]): Promise<void> {
    return this.store.bump(tags);
  }
}

export function createCacheStore(redis: Redis | undefined): CacheStore {
  return redis ? new RedisCacheStore(redis) : new MemoryCacheStore();
}
