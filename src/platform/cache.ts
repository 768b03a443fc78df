import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { linkOf, type RedisLink } from './redis.js';

export { connectRedis } from './redis.js';

/**
 * The cache port. Values are plain JSON data. Invalidation is by version counters ("tags"):
 * a cached read's key includes the current version of every tag it depends on, and a write
 * bumps the versions of the tags it touches, so stale entries are never read again and
 * simply age out. Counters live in the cache itself, so with Redis every node sees a bump.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get<T>(key: string): Promise<T | undefined>;
  /** `get` of several keys at once (one round trip with Redis). */
  getMany<T>(keys: string[]): Promise<(T | undefined)[]>;
  set(key: string, value: unknown, ttlSec: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** Current values of version counters (0 when never bumped), after the store's epoch if it has one. */
  versions(tags: string[]): Promise<number[]>;
  bump(tags: string[]): Promise<void>;
  /**
   * Bumps the counters this process keeps in its own memory, for tags another process
   * invalidated (its write already bumped any shared store). Absent: the store keeps none.
   */
  bumpLocal?(tags: string[]): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What the in-process store holds at most, counted in characters of its values' JSON: some
 * 130,000 search rows (kept as JSON strings, little more than their length in memory), or the
 * 1,700 top-album pages of the load suite (46 M; values kept as objects take about four times
 * their JSON). Counted in entries it was 10,000 of anything: a search's twenty-odd rows each
 * pushed out a page, while 10,000 large pages could take gigabytes.
 */
export const MEMORY_CACHE_CHARS = 64 * 1024 * 1024;

/**
 * A kept string as one flat copy: a string built by joining (a serializer's output) is a rope of
 * its pieces in V8, and a kept entry lives for minutes: 5.5 KB for a row of 700 characters as a
 * rope, 0.8 KB flat. The copy is exact (a lone surrogate is escaped and restored).
 */
export const flatCopy = (text: string): string => JSON.parse(JSON.stringify(text));

/** An entry's weight: its value's JSON length (values are JSON: Redis stores them so). */
const weightOf = (entry: { value: unknown }) => Math.max(1, JSON.stringify(entry.value)?.length ?? 1);

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  private readonly entries: LRUCache<string, { value: unknown }>;
  // Versions are never evicted: losing one would let an older entry with the same version be read.
  private readonly counters = new Map<string, number>();

  constructor(maxChars = MEMORY_CACHE_CHARS) {
    this.entries = new LRUCache({ maxSize: maxChars, sizeCalculation: weightOf, ttlAutopurge: false });
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.entries.get(key)?.value as T | undefined;
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return keys.map((key) => this.entries.get(key)?.value as T | undefined);
  }

  /**
   * Whether a read of `key` under `tags` would still get `value`: no tag has moved past
   * `versions`, and the entry `versionedKey` is neither expired nor evicted nor replaced.
   */
  holds(versionedKey: string, tags: string[], versions: number[], value: unknown): boolean {
    for (let i = 0; i < tags.length; i++) {
      if ((this.counters.get(tags[i]!) ?? 0) !== versions[i]) return false;
    }
    return this.entries.get(versionedKey)?.value === value;
  }

  async set(key: string, value: unknown, ttlSec: number): Promise<void> {
    this.entries.set(
      key,
      { value: typeof value === 'string' ? flatCopy(value) : value },
      { ttl: ttlSec * 1000 },
    );
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

  bumpLocal(tags: string[]): Promise<void> {
    return this.bump(tags);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** Forgets every entry (not the counters, which must never go back). */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * The Redis key of the cache epoch. Every cached key includes it, and it moves forward whenever
 * a process reconnects to Redis after losing it. A Redis that restarted from an older snapshot
 * (or empty) has version counters that went back in time, so old entries would be read as
 * current; and writes made while Redis was away bumped only a process's own counters. Either
 * way the new epoch makes every earlier entry unreachable.
 */
const EPOCH_KEY = 'epoch';

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;

  constructor(readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(`c:${key}`);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    if (!keys.length) return [];
    const raws = await this.redis.mget(...keys.map((k) => `c:${k}`));
    return raws.map((raw) => (raw === null ? undefined : (JSON.parse(raw) as T)));
  }

  async set(key: string, value: unknown, ttlSec: number): Promise<void> {
    await this.redis.set(`c:${key}`, JSON.stringify(value), 'EX', ttlSec);
  }

  async del(keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => `c:${k}`));
  }

  /** The epoch first, then the counters, in one round trip. */
  async versions(tags: string[]): Promise<number[]> {
    const values = await this.redis.mget(EPOCH_KEY, ...tags.map((t) => `v:${t}`));
    return values.map((v) => Number(v ?? 0));
  }

  async bump(tags: string[]): Promise<void> {
    if (!tags.length) return;
    const pipeline = this.redis.pipeline();
    for (const tag of tags) pipeline.incr(`v:${tag}`);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error)?.[0];
    if (failed) throw failed;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  /** Starts a new epoch; on a process's first connect only creates one if there is none. */
  static async renewEpoch(redis: Redis, first: boolean): Promise<void> {
    if (first) await redis.set(EPOCH_KEY, '1', 'NX');
    else await redis.incr(EPOCH_KEY);
  }
}

/**
 * Redis while it answers, this process's memory while it does not (see `RedisLink`). The
 * memory side starts empty at every outage, so nothing it kept from an earlier outage is read.
 * While Redis is away a write invalidates only this process's entries; other nodes may serve
 * their own older entries until their TTL, and everything cached in Redis before the outage is
 * dropped by the new epoch once it is back.
 */
export class FailoverCacheStore implements CacheStore {
  readonly kind = 'redis' as const;
  private readonly shared: RedisCacheStore;
  private readonly local = new MemoryCacheStore();
  private readonly link: RedisLink;

  constructor(redis: Redis) {
    this.shared = new RedisCacheStore(redis);
    this.link = linkOf(redis);
    this.link.onRecovery(RedisCacheStore.renewEpoch);
    this.link.onDown(() => this.local.clear());
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.either((store) => store.get<T>(key));
  }

  getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return this.either((store) => store.getMany<T>(keys));
  }

  set(key: string, value: unknown, ttlSec: number): Promise<void> {
    return this.either((store) => store.set(key, value, ttlSec));
  }

  del(keys: string[]): Promise<void> {
    return this.either((store) => store.del(keys));
  }

  versions(tags: string[]): Promise<number[]> {
    return this.either((store) => store.versions(tags));
  }

  bump(tags: string[]): Promise<void> {
    return this.either((store) => store.bump(tags));
  }

  /** The memory side only: it is what this process reads while Redis is away. */
  bumpLocal(tags: string[]): Promise<void> {
    return this.local.bump(tags);
  }

  /** Ready only with Redis: the fallback keeps requests working, but the node is degraded. */
  async ping(): Promise<void> {
    if (!this.link.available) throw new Error('Redis is unavailable');
    await this.shared.ping();
  }

  async close(): Promise<void> {
    this.link.close();
  }

  private async either<T>(op: (store: CacheStore) => Promise<T>): Promise<T> {
    if (this.link.available) {
      try {
        return await op(this.shared);
      } catch {
        this.link.failed();
      }
    }
    return op(this.local);
  }
}

/**
 * For values the in-process store hands out: a check that a read would still hand out the same
 * object. Values from Redis are copies and have none.
 */
const inProcess = new WeakMap<object, () => boolean>();

/**
 * A synchronous check that `value` (as returned by `Cache.read`) is still what the cache holds
 * for its read: false once a tag it depends on was invalidated, or its entry expired or was
 * evicted. Undefined when the value did not come from the in-process store (Redis values are
 * new objects on every read), so nothing can be known about it without asking the store.
 */
export function stillCached(value: unknown): (() => boolean) | undefined {
  return typeof value === 'object' && value !== null ? inProcess.get(value) : undefined;
}

/**
 * `derived` is made from `source` alone (a view of a cached record): it stays current exactly
 * as long as `source` does.
 */
export function derivedFromCached(derived: object, source: unknown): void {
  const check = stillCached(source);
  if (check) inProcess.set(derived, check);
}

/**
 * The store's key of a cached read: its key at the stamp of its tags' versions. A read that
 * depends on many tags (a notification feed: one per followed album) keys on a digest of their
 * versions rather than on a key of kilobytes.
 */
const versionedKey = (key: string, stamp: string) =>
  `${key}@${stamp.length > 64 ? createHash('sha256').update(stamp).digest('base64url') : stamp}`;

/**
 * Read-through caching over a `CacheStore`, with tag versions and single flight: concurrent
 * misses for one key in this process share one load. The versions are read before the load,
 * so a write that commits during the load and bumps a tag afterwards leaves the loaded value
 * under the old versions, where it is never read again. `load` is given those versions (the
 * stamp), for a loader that keeps derived data of its own per version (`AlbumDirectory`).
 */
export class Cache {
  private readonly inflight = new Map<string, Promise<unknown>>();
  private peers: ((tags: string[]) => void) | undefined;

  constructor(
    readonly store: CacheStore,
    readonly defaultTtlSec: number,
  ) {}

  /** The versions of `tags` as one string: what a cached read's key carries (see `read`). */
  async stamp(tags: string[]): Promise<string> {
    return (await this.store.versions(tags)).join('.');
  }

  /**
   * `keep`, asked after a load, says whether to store what it returned (default: always): a
   * loader may answer a request without its answer being worth keeping.
   */
  async read<T>(
    options: { key: string; tags: string[]; ttlSec?: number; keep?: () => boolean },
    load: (stamp: string) => Promise<T>,
  ): Promise<T> {
    const versions = await this.store.versions(options.tags);
    const stamp = versions.join('.');
    const key = versionedKey(options.key, stamp);
    const hit = await this.store.get<T>(key);
    if (hit !== undefined) return hit;
    const pending = this.inflight.get(key);
    if (pending) return pending as Promise<T>;
    const loading = (async () => {
      try {
        const value = await load(stamp);
        if (options.keep && !options.keep()) return value;
        await this.store.set(key, value, options.ttlSec ?? this.defaultTtlSec);
        const { store } = this;
        if (store instanceof MemoryCacheStore && typeof value === 'object' && value !== null) {
          const { tags } = options;
          inProcess.set(value, () => store.holds(key, tags, versions, value));
        }
        return value;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, loading);
    return loading;
  }

  /**
   * `read` for many values at once, in a store's round trip for all their versions and one for
   * all their entries: `load` is given the positions of the items that missed and returns their
   * values in that order; `keep` says which of those to store (an item whose tags were not
   * known before its load: it must not be kept under tags read for another). No single flight (concurrent misses each load), and nothing for
   * `stillCached`: for pages assembled from many small values (a search's rows).
   */
  async readMany<
    T,
    I extends { key: string; tags: readonly string[] } = { key: string; tags: readonly string[] },
  >(
    items: readonly I[],
    load: (missed: number[]) => Promise<T[]>,
    keep: (item: I, value: T) => boolean = () => true,
  ): Promise<T[]> {
    if (!items.length) return [];
    const all = await this.store.versions(items.flatMap((item) => item.tags));
    // A store with an epoch (Redis) answers it first: every item's stamp starts with it.
    const lead = all.length - items.reduce((n, item) => n + item.tags.length, 0);
    const epoch = all.slice(0, lead);
    let at = lead;
    const keys = items.map((item) => {
      const versions = [...epoch, ...all.slice(at, at + item.tags.length)];
      at += item.tags.length;
      return versionedKey(item.key, versions.join('.'));
    });
    const values = await this.store.getMany<T>(keys);
    const missed: number[] = [];
    values.forEach((value, i) => {
      if (value === undefined) missed.push(i);
    });
    if (missed.length) {
      const loaded = await load(missed);
      await Promise.all(
        missed.map(async (i, k) => {
          const value = loaded[k] as T;
          values[i] = value;
          if (keep(items[i]!, value)) await this.store.set(keys[i]!, value, this.defaultTtlSec);
        }),
      );
    }
    return values as T[];
  }

  /**
   * Makes every cached read that depends on one of `tags` miss from now on, here and, through
   * `shareInvalidations`, in the other processes' own memory.
   */
  async invalidate(...tags: string[]): Promise<void> {
    await this.store.bump(tags);
    if (tags.length) this.peers?.(tags);
  }

  /**
   * Sends the tags this process invalidates to the other processes (over the event bus), whose
   * in-process entries a shared store cannot reach: its only store without Redis, and the
   * fallback one while Redis is away. `invalidateHere` is the receiving side.
   */
  shareInvalidations(send: (tags: string[]) => void): void {
    this.peers = send;
  }

  /** Tags another process invalidated: only this process's own entries, nothing sent on. */
  async invalidateHere(tags: string[]): Promise<void> {
    await this.store.bumpLocal?.(tags);
  }
}

export function createCacheStore(redis: Redis | undefined): CacheStore {
  return redis ? new FailoverCacheStore(redis) : new MemoryCacheStore();
}
