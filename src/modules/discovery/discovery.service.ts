import type { FastifyBaseLogger } from 'fastify';
import type { AuthUser } from '../../platform/auth.js';
import { batched } from '../../platform/batch.js';
import type { Cache } from '../../platform/cache.js';
import type { Clock } from '../../platform/clock.js';
import { type Db, withTx } from '../../platform/db.js';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { EventBus, EventType } from '../../platform/events.js';
import {
  artistTimeline,
  type CatalogService,
  genreStats,
  getVisibleAlbums,
  getVisibleSongs,
  type SongView,
  setAlbumRecentPlays,
  songScopeOf,
  songVisibleTo,
  topAlbums,
} from '../catalog/index.js';
import type { Exclusions, FeedPosition, SongFeatures, TrendingWindow } from './discovery.repo.js';
import * as repo from './discovery.repo.js';
import type { Reason } from './discovery.schemas.js';
import type { PlayEvent } from './discovery.tables.js';
import { createPlayCounter } from './play-counter.js';

/** How often a process checks whether the trending windows (and popularity) must roll. */
const ROLL_CHECK_MS = 60_000;

/** The time source; tests pass a settable one so windows and the 30 s bound need no sleeping. */

export interface DiscoveryDeps {
  db: Db;
  cache: Cache;
  clock: Clock;
  catalog: Pick<CatalogService, 'getArtist' | 'invalidateAlbum'>;
  /** Catalog events invalidate the cached analytics; absent where nothing caches them. */
  events?: EventBus;
  /** Where a failed flush of counted plays is reported (it is retried). */
  log: FastifyBaseLogger;
}

export interface RecentlyPlayedPage {
  items: { playedAt: string; song: SongView }[];
  nextCursor: string | null;
}

export interface Recommendation {
  score: number;
  reason: Reason;
  song: SongView;
}

const HOUR_MS = 3_600_000;
const WINDOW_HOURS: Record<TrendingWindow, number> = { '24h': 24, '7d': 7 * 24, '30d': 30 * 24 };

const truncHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/**
 * The oldest hour bucket inside a window at `hourMs`: the current (partial) hour and the ones
 * before it, so a play older than the window's length is never in it.
 */
const windowStart = (window: TrendingWindow, hourMs: number) =>
  new Date(hourMs - (WINDOW_HOURS[window] - 1) * HOUR_MS);

/** Cached analytics depend on this tag; catalog events bump it. */
const STATS_TAG = 'discovery:stats';
const CATALOG_EVENTS: EventType[] = [
  'catalog.album_added',
  'catalog.album_updated',
  'catalog.album_deleted',
  'catalog.song_added',
  'catalog.song_updated',
  'catalog.song_deleted',
];

/** Follower counts move without a catalog event; this bounds how long top albums lag behind. */
const TOP_ALBUMS_TTL_SEC = 30;

/** How many candidates each source offers before scoring. */
const POOL = 200;
/** How many of a listener's songs make their taste. */
const SEEDS = 50;

const songNotFound = () => new NotFoundError('Song', 'SONG_NOT_FOUND');

export function encodeCursor(position: FeedPosition): string {
  return Buffer.from(`${position.playedAt.getTime()}.${position.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): FeedPosition {
  const match = /^(\d{1,15})\.(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) {
    throw new ValidationError(
      'The cursor is malformed; use nextCursor from the previous page',
      [{ path: '/cursor', message: 'is not a cursor this feed gave out' }],
      'INVALID_CURSOR',
    );
  }
  return { playedAt: new Date(Number(match[1])), id: Number(match[2]) };
}

/** What a listener (or a seed song) is like: weights 0..1 per genre and artist, and an era. */
interface Taste {
  genres: Map<string, number>;
  artists: Map<string, number>;
  year: number | null;
}

/** Weights relative to the most frequent value, so the favourite genre or artist weighs 1. */
function weights(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const top = Math.max(...counts.values());
  return new Map([...counts].map(([k, n]) => [k, n / top]));
}

export function tasteOf(seeds: SongFeatures[]): Taste {
  return {
    genres: weights(seeds.map((s) => s.genre)),
    artists: weights(seeds.map((s) => s.artistId)),
    year: Math.round(seeds.reduce((sum, s) => sum + s.releaseYear, 0) / seeds.length),
  };
}

const strongest = <K extends string>(map: Map<K, number>, n: number): K[] =>
  [...map]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([k]) => k);

/**
 * The hybrid score: 60 % collaborative (how the same listeners voted), 40 % content (genre
 * 45 %, artist 35 %, era 20 %), each 0..1. The reason names the collaborative signal when it
 * weighs more than the content, else the most specific content match.
 */
export function scoreCandidate(
  song: SongFeatures,
  taste: Taste,
  collaborative: number,
): { score: number; reason: Reason } {
  const artist = taste.artists.get(song.artistId) ?? 0;
  const genre = taste.genres.get(song.genre) ?? 0;
  const era = taste.year === null ? 0 : Math.max(0, 1 - Math.abs(song.releaseYear - taste.year) / 10);
  const content = 0.45 * genre + 0.35 * artist + 0.2 * era;
  const reason: Reason =
    0.6 * collaborative >= 0.4 * content
      ? 'co-listened'
      : artist > 0
        ? 'same-artist'
        : genre > 0
          ? 'same-genre'
          : 'same-era';
  return { score: 0.6 * collaborative + 0.4 * content, reason };
}

const songIdsOf = (rows: { songId: string }[]) => rows.map((r) => r.songId);
const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id);

const round = (score: number) => Math.round(score * 10_000) / 10_000;

export function createDiscoveryService(deps: DiscoveryDeps) {
  const { db, cache, clock, catalog } = deps;
  const counter = createPlayCounter({
    db,
    log: deps.log,
    invalidateAlbums: (albumIds) => catalog.invalidateAlbum(...albumIds),
  });
  /** Concurrent plays share one statement (see `batched`); each request still waits for its own. */
  const recordPlay = batched((inputs: readonly repo.PlayInput[]) => repo.recordPlays(db, inputs), {
    onBatchFailure: (error, size) =>
      deps.log.warn({ err: error, size }, 'a batch of plays failed; recording them one at a time'),
  });
  for (const type of CATALOG_EVENTS)
    deps.events?.subscribe(type, () => cache.invalidate(STATS_TAG), 'every-process');

  /** Song views by id, for the ids `caller` may open. */
  async function songViews(ids: string[], caller: AuthUser | null): Promise<Map<string, SongView>> {
    return new Map((await getVisibleSongs(db, ids, caller)).map((v) => [v.id, v]));
  }

  /** The hour this process last found every window rolled at; saves the check within an hour. */
  let rolledHour: number | undefined;

  /**
   * Sets albums' recent plays (and popularity) again from their songs' 30-day totals: `albumIds`,
   * or every album. Under the exclusive trending lock, so no batch of plays adds to those
   * albums meanwhile (its increment would be overwritten by a total read before it).
   */
  async function recountRecentPlays(albumIds?: string[]): Promise<void> {
    const changed = await withTx(db, async (tx) => {
      await repo.lockTrendingRoll(tx);
      return setAlbumRecentPlays(tx, repo.albumRecentPlays(albumIds), albumIds);
    });
    await catalog.invalidateAlbum(...changed);
  }
  // A deleted song's plays leave its album's recent plays (its totals went with it).
  deps.events?.subscribe('catalog.song_deleted', (event) => recountRecentPlays([event.payload.albumId]), {
    group: 'counters',
  });

  /**
   * Subtracts the hour buckets that have left each window since the last roll, then recounts
   * the recent plays (and popularity) of the albums whose songs' 30-day totals fell; the first
   * roll of a UTC day recounts every album, which bounds any drift (say a recount that failed)
   * to a day. Runs before trending is read and on a timer, so popularity falls as plays age
   * even when nobody reads charts; at most once an hour per process, and nodes serialise on a
   * lock (the first one does the work).
   */
  async function rollTrending(now: Date): Promise<void> {
    const hour = truncHour(now.getTime());
    if (hour === rolledHour) return;
    const isRolled = (rolled: Map<TrendingWindow, Date>, window: TrendingWindow) =>
      (rolled.get(window)?.getTime() ?? Number.NEGATIVE_INFINITY) >= windowStart(window, hour).getTime();
    const rolled = await repo.rolledUntil(db);
    if (!repo.TRENDING_WINDOWS.every((w) => isRolled(rolled, w))) {
      const monthAlbums = await withTx(db, async (tx) => {
        await repo.lockTrendingRoll(tx);
        const current = await repo.rolledUntil(tx);
        let albums: string[] | undefined;
        for (const window of repo.TRENDING_WINDOWS) {
          if (isRolled(current, window)) continue;
          const changed = await repo.rollWindow(tx, window, current.get(window), windowStart(window, hour));
          if (window === '30d') albums = changed;
        }
        await repo.pruneBuckets(tx, windowStart('30d', hour));
        return albums;
      });
      // A transaction of its own: albums are locked after song totals nowhere else (a song's
      // deletion locks its album, then its totals), so one transaction could deadlock.
      const everyAlbum = monthAlbums !== undefined && new Date(hour).getUTCHours() === 0;
      if (everyAlbum || monthAlbums?.length) await recountRecentPlays(everyAlbum ? undefined : monthAlbums);
    }
    rolledHour = hour;
  }
  let rollTimer: NodeJS.Timeout | undefined;

  /** Fills scored candidates up to `limit` with trending, then popular songs. */
  async function withFallback(
    scored: { songId: string; score: number; reason: Reason }[],
    ex: Exclusions,
    limit: number,
  ) {
    if (scored.length >= limit) return scored;
    await rollTrending(clock());
    const taken = new Set(scored.map((s) => s.songId));
    const fallback = (await repo.fallbackCandidates(db, ex, limit + scored.length)).filter(
      (f) => !taken.has(f.songId),
    );
    const topPlays = Math.max(1, ...fallback.map((f) => f.weeklyPlays));
    return [
      ...scored,
      ...fallback.slice(0, limit - scored.length).map((f) => ({
        songId: f.songId,
        // Up to 0.1 by weekly plays for trending songs; 0 (no signal at all) for popular filler.
        score: 0.1 * (f.weeklyPlays / topPlays),
        reason: (f.weeklyPlays > 0 ? 'trending' : 'popular') as Reason,
      })),
    ];
  }

  /** Scores the collaborative and content candidates (already listed and not excluded). */
  async function rank(
    taste: Taste,
    collaborative: (SongFeatures & { score: number })[],
    content: SongFeatures[],
    ex: Exclusions,
    limit: number,
  ) {
    const votes = new Map(collaborative.map((c) => [c.id, c.score]));
    const candidates = new Map([...content, ...collaborative].map((c) => [c.id, c]));
    const scored = [...candidates.values()]
      .map((f) => ({ songId: f.id, ...scoreCandidate(f, taste, votes.get(f.id) ?? 0) }))
      .sort((a, b) => b.score - a.score || (a.songId < b.songId ? -1 : 1))
      .slice(0, limit);
    return withFallback(scored, ex, limit);
  }

  /** Song views for ranked ids, best first, ties by id ascending. */
  async function present(
    caller: AuthUser | null,
    ranked: { songId: string; score: number; reason: Reason }[],
  ): Promise<{ items: Recommendation[] }> {
    const views = await songViews(songIdsOf(ranked), caller);
    const items = ranked
      .map((r) => ({ ...r, score: round(r.score) }))
      .sort((a, b) => b.score - a.score || (a.songId < b.songId ? -1 : 1))
      .flatMap((r) => {
        const song = views.get(r.songId);
        return song ? [{ score: r.score, reason: r.reason, song }] : [];
      });
    return { items };
  }

  return {
    /**
     * Takes one listening event. A `play` counts (song and album playCount, popularity,
     * trending) unless the same user's play of the song counted less than 30 s ago; that
     * decision commits with the event, the counters follow within a flush interval.
     */
    async recordPlay(
      caller: AuthUser,
      songId: string,
      input: { event: PlayEvent; positionMs?: number },
    ): Promise<void> {
      const at = clock();
      const result = await recordPlay({
        userId: caller.id,
        songId,
        event: input.event,
        positionMs: input.positionMs ?? null,
        at,
        scope: songScopeOf(caller),
      });
      if (!result) throw songNotFound();
      if (result.counted) counter.add(songId, truncHour(at.getTime()));
    },

    /** Applies the plays counted so far to the counters; resolves once reads show them. */
    flushPlays: counter.flush,

    /**
     * Rolls the windows on a timer, so popularity falls as plays age even when nobody reads
     * trending. Background work: processes with the `worker` role run it.
     */
    startSchedules(): void {
      rollTimer ??= setInterval(
        () =>
          rollTrending(clock()).catch((error: unknown) =>
            deps.log.error({ err: error }, 'rolling the trending windows failed'),
          ),
        ROLL_CHECK_MS,
      ).unref();
    },

    /** Applies what is pending and stops the flush and roll timers (on shutdown). */
    async close(): Promise<void> {
      clearInterval(rollTimer);
      await counter.close();
    },

    /** When the user last played each song, and any song of each album (OpenSubsonic `played`). */
    lastPlayed(userId: string, ids: { songIds: string[]; albumIds: string[] }) {
      return repo.lastPlayed(db, userId, ids);
    },

    async recentlyPlayed(
      caller: AuthUser,
      query: { limit: number; cursor?: string },
    ): Promise<RecentlyPlayedPage> {
      const rows = await repo.recentPlays(db, caller.id, {
        limit: query.limit + 1,
        cursor: query.cursor ? decodeCursor(query.cursor) : undefined,
        songVisible: songVisibleTo(caller),
      });
      const page = rows.slice(0, query.limit);
      const views = await songViews(songIdsOf(page), caller);
      const last = page.at(-1);
      return {
        items: page.flatMap((r) => {
          const song = views.get(r.songId);
          return song ? [{ playedAt: r.playedAt.toISOString(), song }] : [];
        }),
        nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
      };
    },

    /** The most played listed songs in a window, ranked 1, 2, 3... with ties by id. */
    async trending(query: { window: TrendingWindow; limit: number }) {
      await rollTrending(clock());
      const rows = await repo.trendingSongs(db, query.window, query.limit, songVisibleTo(null));
      const views = await songViews(songIdsOf(rows), null);
      const items = rows.flatMap((r) => {
        const song = views.get(r.songId);
        return song ? [{ plays: r.plays, song }] : [];
      });
      return { items: items.map((item, i) => ({ rank: i + 1, ...item })) };
    },

    /** Songs like a seed: same listeners, artist, genre and era; never the seed or a skipped song. */
    async similar(caller: AuthUser | null, songId: string, limit: number) {
      const seed = await repo.songFeatures(db, songId, songVisibleTo(caller));
      if (!seed) throw songNotFound();
      const ex: Exclusions = { songIds: [songId], skippedBy: caller?.id ?? null, heardBy: null };
      const taste = tasteOf([seed]);
      const collaborative = await repo.collaborativeScores(db, [songId], ex, POOL);
      const content = await repo.contentCandidates(
        db,
        { artistIds: [seed.artistId], genres: [seed.genre], year: seed.releaseYear },
        ex,
        POOL,
      );
      return present(caller, await rank(taste, collaborative, content, ex, limit));
    },

    /**
     * Songs new to a listener, from what they finished (or, when they finish nothing, what
     * they played); trending and popular songs for someone with no history yet.
     */
    async recommendations(caller: AuthUser, limit: number) {
      const ex: Exclusions = { songIds: [], skippedBy: caller.id, heardBy: caller.id };
      let seeds = await repo.likedSongs(db, caller.id, SEEDS);
      if (!seeds.length) seeds = await repo.playedSongs(db, caller.id, SEEDS);
      const features = await repo.featuresOf(db, seeds);
      if (!features.length) return present(caller, await withFallback([], ex, limit));
      const taste = tasteOf(features);
      const collaborative = await repo.collaborativeScores(db, seeds, ex, POOL);
      const content = await repo.contentCandidates(
        db,
        { artistIds: strongest(taste.artists, 5), genres: strongest(taste.genres, 3), year: taste.year },
        ex,
        POOL,
      );
      return present(caller, await rank(taste, collaborative, content, ex, limit));
    },

    /**
     * Listed albums by followers, ranked 1, 2, 3... with ties by id; optionally one genre.
     * Follows publish no event, so follower counts here may lag by the short TTL.
     */
    topAlbums(query: { limit: number; genre?: string }) {
      const genre = query.genre?.trim().toLowerCase() || undefined;
      const key = `discovery:top-albums:${JSON.stringify([genre ?? null, query.limit])}`;
      return cache.read({ key, tags: [STATS_TAG], ttlSec: TOP_ALBUMS_TTL_SEC }, async () => {
        const rows = await topAlbums(db, { limit: query.limit, genre });
        const views = new Map((await getVisibleAlbums(db, idsOf(rows), null)).map((v) => [v.id, v]));
        const items = rows.flatMap((r) => {
          const album = views.get(r.id);
          return album ? [{ followerCount: r.followerCount, album }] : [];
        });
        return { items: items.map((item, i) => ({ rank: i + 1, ...item })) };
      });
    },

    async genres() {
      return cache.read({ key: 'discovery:genres', tags: [STATS_TAG] }, async () => ({
        items: await genreStats(db),
      }));
    },

    /** Listed albums per release year of an artist the caller may see. */
    async artistTimeline(caller: AuthUser | null, artistId: string) {
      const artist = await catalog.getArtist(caller, artistId);
      const items = await cache.read({ key: `discovery:timeline:${artistId}`, tags: [STATS_TAG] }, () =>
        artistTimeline(db, artistId),
      );
      return { artist: { id: artist.id, name: artist.name }, items };
    },
  };
}

export type DiscoveryService = ReturnType<typeof createDiscoveryService>;
