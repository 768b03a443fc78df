import type { FastifyBaseLogger } from 'fastify';
import { type Db, withTx } from '../../platform/db.js';
import { addSongPlays } from '../catalog/index.js';
import * as repo from './discovery.repo.js';

export interface PlayCounterOptions {
  db: Db;
  /** After a batch commits: cached album reads must show the new counts. */
  invalidateAlbums: (albumIds: string[]) => Promise<void>;
  log: FastifyBaseLogger;
  /** How long a counted play may wait before the counters show it. */
  intervalMs?: number;
  /** Pending songs that trigger a flush before the interval is up (bounds memory). */
  maxSongs?: number;
}

/** One song's counted plays not yet applied: in all, and per hour (epoch ms) for the buckets. */
interface Pending {
  plays: number;
  byHour: Map<number, number>;
}

const INTERVAL_MS = 1000;
const MAX_SONGS = 50_000;

/**
 * Applies counted plays to the ranking counters (songs' and albums' play counts, popularity,
 * trending buckets and window totals) in batches instead of per play: the request path only
 * records the play and its guard decision, and each song's and album's row is then written
 * once per batch however many plays it got. Each node batches its own plays; batches are
 * increments, so nodes never need to agree. Until a flush, the counts live only in this
 * process: a crash loses at most one interval of counter updates (never the history rows).
 */
export function createPlayCounter(options: PlayCounterOptions) {
  const { db, log } = options;
  const intervalMs = options.intervalMs ?? INTERVAL_MS;
  const maxSongs = options.maxSongs ?? MAX_SONGS;
  let pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | undefined;
  /** The last flush queued; flushes run one after another. */
  let queue: Promise<void> = Promise.resolve();
  let closed = false;

  const flushLogged = () =>
    flush().catch((error: unknown) => log.error({ err: error }, 'flushing counted plays failed'));

  function schedule(): void {
    // Unref'd: pending counts never keep a process alive; close() flushes them.
    if (!closed) timer ??= setTimeout(flushLogged, intervalMs).unref();
  }

  function merge(into: Map<string, Pending>, songId: string, hour: number, plays: number): void {
    const entry = into.get(songId) ?? { plays: 0, byHour: new Map<number, number>() };
    entry.plays += plays;
    entry.byHour.set(hour, (entry.byHour.get(hour) ?? 0) + plays);
    into.set(songId, entry);
  }

  async function apply(batch: Map<string, Pending>): Promise<void> {
    const hourly = [...batch].flatMap(([songId, p]) =>
      [...p.byHour].map(([hour, plays]) => ({ hour: new Date(hour), songId, plays })),
    );
    let albumIds: string[];
    try {
      albumIds = await withTx(db, async (tx) => {
        await repo.lockTrendingShared(tx);
        // Recent plays are those the 30-day trending total takes (an hour it has rolled past
        // is out), so an album's recent plays stay the sum of its songs' 30-day totals.
        const rolled = (await repo.rolledUntil(tx)).get('30d')?.getTime() ?? Number.NEGATIVE_INFINITY;
        const counts = new Map(
          [...batch].map(([songId, p]) => {
            let recentPlays = 0;
            for (const [hour, plays] of p.byHour) if (hour >= rolled) recentPlays += plays;
            return [songId, { plays: p.plays, recentPlays }];
          }),
        );
        const touched = await addSongPlays(tx, counts);
        await repo.addTrendingPlays(tx, hourly);
        return touched;
      });
    } catch (error) {
      // Nothing was applied: keep the counts for the next attempt.
      for (const [songId, p] of batch)
        for (const [hour, plays] of p.byHour) merge(pending, songId, hour, plays);
      schedule();
      throw error;
    }
    await options.invalidateAlbums(albumIds);
  }

  /** Applies everything counted so far; resolves once it is committed and visible. */
  function flush(): Promise<void> {
    const run = queue.then(async () => {
      clearTimeout(timer);
      timer = undefined;
      const batch = pending;
      pending = new Map();
      if (batch.size) await apply(batch);
    });
    queue = run.catch(() => {});
    return run;
  }

  return {
    /** Takes one counted play of a song in the hour starting at `hour` (epoch ms). */
    add(songId: string, hour: number): void {
      const before = pending.size;
      merge(pending, songId, hour, 1);
      // Once, as the map reaches the bound; the flush then starts a new map.
      if (pending.size === maxSongs && before < maxSongs) void flushLogged();
      else schedule();
    },
    flush,
    /**
     * Applies what is pending and schedules nothing more (on shutdown). A failure is logged,
     * not thrown: shutdown goes on, and those counts are the loss a crash would cause.
     */
    async close(): Promise<void> {
      closed = true;
      await flushLogged();
    },
  };
}

export type PlayCounter = ReturnType<typeof createPlayCounter>;
