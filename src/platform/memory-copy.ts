import type { Cache } from './cache.js';

// A copy of some data held in this process's memory and kept honest by the cache's version
// tags: it answers only for the versions of `tags` it was built at, and never longer than a
// cached read lives (the cache's TTL, whatever invalidation was missed). When it cannot answer,
// the caller asks the database and a new copy is built in the background, at a pace writes
// cannot turn into a stream of builds. The album directory and the search index are such copies
// (see "Album directory" and "Search index" in docs/architecture.md).

/** Time spent building is at most 1 / BUILD_SHARE of the time: after a build of d ms, wait 9d. */
const BUILD_SHARE = 10;

/** A stale copy is built again only after the tags have kept one version this long (or a build's time). */
const QUIET_MS = 1000;

/** A copy is built again once this share of its lifetime (the cache's TTL) has passed. */
const RENEW_AT = 0.75;

/** After a load found the data too large to keep, look again this much later. */
const TOO_LARGE_RETRY_MS = 10 * 60_000;

export interface MemoryCopy<T> {
  /**
   * The copy built at `stamp` (the cache's stamp of the tags, read by the caller) while it
   * lives; else undefined, and a build starts if one is due.
   */
  at(stamp: string): T | undefined;
  /** Builds the copy now (for tests and warm-up); resolves when it is done or failed. */
  refresh(): Promise<void>;
  /** Builds started so far. */
  readonly builds: number;
}

/**
 * `load` reads the data (undefined: too large to keep; the database answers, and another
 * look comes TOO_LARGE_RETRY_MS later). A failed load leaves the previous copy, which still
 * answers only for its own version. A copy lives `lifetimeMs` (the cache's TTL unless said).
 */
export function memoryCopy<T>(
  cache: Cache,
  tags: string[],
  load: () => Promise<T | undefined>,
  options: { now?: () => number; lifetimeMs?: number } = {},
): MemoryCopy<T> {
  const now = options.now ?? Date.now;
  let built: { stamp: string; builtAt: number; value: T } | undefined;
  let building: Promise<void> | undefined;
  let nextBuildAt = 0;
  let lastBuildMs = 0;
  // The tags' version readers last saw, and since when: a build waits for them to be quiet.
  let seenStamp: string | undefined;
  let seenSince = 0;
  const lifetimeMs = options.lifetimeMs ?? cache.defaultTtlSec * 1000;
  let builds = 0;

  function build(): Promise<void> {
    building ??= (async () => {
      builds++;
      const started = now();
      let tooLarge = false;
      try {
        // Versions first, then the data: a write committed meanwhile is in the data but bumped
        // after the stamp, so the copy is already stale for it, never wrong.
        const stamp = await cache.stamp(tags);
        const value = await load();
        tooLarge = value === undefined;
        built = value === undefined ? undefined : { stamp, builtAt: started, value };
      } catch {
        // The database answers (and reports) while the copy cannot be built.
      } finally {
        lastBuildMs = now() - started;
        nextBuildAt = now() + (tooLarge ? TOO_LARGE_RETRY_MS : lastBuildMs * (BUILD_SHARE - 1));
        building = undefined;
      }
    })();
    return building;
  }

  return {
    at(stamp) {
      const due = now() >= nextBuildAt;
      const age = now() - (built?.builtAt ?? 0);
      if (built?.stamp === stamp && age < lifetimeMs) {
        // Built again ahead of its expiry, so that readers need not fall back meanwhile.
        if (due && age > lifetimeMs * RENEW_AT) void build();
        return built.value;
      }
      // Stale. Build again only once the tags have kept one version for as long as a build
      // takes (a second at least): under a stream of writes each new copy would be stale
      // before it answered, and building it cost the readers more than it gave them.
      if (stamp !== seenStamp) {
        seenStamp = stamp;
        seenSince = now();
      }
      if (due && now() - seenSince >= Math.max(QUIET_MS, lastBuildMs)) void build();
      return undefined;
    },
    refresh: build,
    get builds() {
      return builds;
    },
  };
}
