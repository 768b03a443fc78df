import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache, type CacheStore, connectRedis, FailoverCacheStore, MemoryCacheStore } from './cache.js';
import { linkOf } from './redis.js';

const redisUrl = process.env.TEST_REDIS_URL;
const redis = redisUrl ? connectRedis(redisUrl, `bbtest:${randomBytes(6).toString('hex')}:`) : undefined;
beforeAll(async () => {
  if (redis) await linkOf(redis).whenUp();
});
afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${redis.options.keyPrefix}*`);
  if (keys.length) await redis.del(...keys.map((k) => k.slice((redis.options.keyPrefix ?? '').length)));
  redis.disconnect();
});

/** Two caches over one store, as two processes share Redis (in-process: one store, one process). */
const stores: [string, () => [CacheStore, CacheStore]][] = [
  ['in-process', () => Array(2).fill(new MemoryCacheStore()) as [CacheStore, CacheStore]],
  ...(redis
    ? [
        ['Redis', () => [new FailoverCacheStore(redis), new FailoverCacheStore(redis)]] as [
          string,
          () => [CacheStore, CacheStore],
        ],
      ]
    : []),
];

describe.each(stores)('Cache.readMany (%s store)', (_name, makeStores) => {
  const [one, two] = makeStores();
  const cache = new Cache(one, 60);
  const other = new Cache(two, 60);
  const run = randomBytes(4).toString('hex');
  const item = (n: number, tags: string[] = [`tag-${run}-${n}`]) => ({ key: `item-${run}-${n}`, tags, n });

  it('loads what it misses in one call, then serves it until a tag moves', async () => {
    const calls: number[][] = [];
    const read = (items: ReturnType<typeof item>[], version: string, from = cache) =>
      from.readMany(items, async (missed) => {
        calls.push(missed.map((i) => items[i]!.n));
        return missed.map((i) => ({ n: items[i]!.n, version }));
      });
    const items = [item(1), item(2), item(3)];
    expect(await read(items, 'a')).toEqual([1, 2, 3].map((n) => ({ n, version: 'a' })));
    expect(await read(items, 'b')).toEqual([1, 2, 3].map((n) => ({ n, version: 'a' })));
    expect(await read(items, 'b', other)).toEqual([1, 2, 3].map((n) => ({ n, version: 'a' })));
    await cache.invalidate(`tag-${run}-2`);
    expect(await read(items, 'c')).toEqual([
      { n: 1, version: 'a' },
      { n: 2, version: 'c' },
      { n: 3, version: 'a' },
    ]);
    expect(await read(items, 'd', other)).toEqual([
      { n: 1, version: 'a' },
      { n: 2, version: 'c' },
      { n: 3, version: 'a' },
    ]);
    expect(calls).toEqual([[1, 2, 3], [2]]);
    expect(await cache.readMany([], async () => [])).toEqual([]);
  });

  it('stores only what `keep` accepts', async () => {
    let loads = 0;
    const items = [item(4), item(5)];
    const read = () =>
      cache.readMany(
        items,
        async (missed) => {
          loads += missed.length;
          return missed.map((i) => items[i]!.n);
        },
        (entry) => entry.n !== 5,
      );
    expect(await read()).toEqual([4, 5]);
    expect(await read()).toEqual([4, 5]);
    expect(loads).toBe(3);
  });
});

describe('the in-process store', () => {
  it('holds what fits in its size, counted in JSON, and drops the least recently used first', async () => {
    // Room for 1,000 characters: ten values of about 90 (their JSON), or one of 900.
    const store = new MemoryCacheStore(1_000);
    const row = (n: number) => ({ n, name: 'x'.repeat(80) });
    for (let n = 0; n < 10; n++) await store.set(`row-${n}`, row(n), 60);
    expect(await store.getMany([...Array(10).keys()].map((n) => `row-${n}`))).toEqual(
      [...Array(10).keys()].map(row),
    );
    await store.get('row-0'); // used again: row-1 is now the least recently used
    await store.set('page', { items: 'y'.repeat(250) }, 60);
    const kept = await store.getMany([...Array(10).keys()].map((n) => `row-${n}`));
    expect(kept.map((value) => value !== undefined)).toEqual([
      true,
      false,
      false,
      false,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(await store.get('page')).toEqual({ items: 'y'.repeat(250) });
    // A value larger than the whole store is not kept, and pushes nothing out.
    await store.set('huge', 'z'.repeat(2_000), 60);
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.get('row-9')).toEqual(row(9));
  });
});
