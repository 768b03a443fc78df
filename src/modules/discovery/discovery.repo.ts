import { and, asc, desc, eq, gt, lt, type SQL, sql } from 'drizzle-orm';
import { type Db, type Executor, rowsOf, type SqlArrayType, sqlArray, withTx } from '../../platform/db.js';
import { albums, type SongScope, songInRowScope, songs } from '../catalog/index.js';
import {
  listenerSignals,
  type PlayEvent,
  playCountGuards,
  playEvents,
  songPlayBuckets,
  songTrending,
  trendingRolls,
} from './discovery.tables.js';

const uuidList = (ids: readonly string[]) => sqlArray(ids, 'uuid');

// ---------------------------------------------------------------------------------------------
// Ingestion

export const TRENDING_WINDOWS = ['24h', '7d', '30d'] as const;
export type TrendingWindow = (typeof TRENDING_WINDOWS)[number];

const trendingColumn = {
  '24h': songTrending.plays24h,
  '7d': songTrending.plays7d,
  '30d': songTrending.plays30d,
} as const;

/** A user's repeated plays of one song count at most once per this many seconds. */
export const COUNT_INTERVAL_SEC = 30;

export interface PlayInput {
  userId: string;
  songId: string;
  event: PlayEvent;
  positionMs: number | null;
  at: Date;
  /** Which songs the caller may open (the catalog's rule, as values). */
  scope: SongScope;
}

/** An event of a batch and its place in it. */
interface Entry {
  index: number;
  input: PlayInput;
}

/**
 * Records a batch of listening events in one statement: the history rows, then for each event
 * either the play guard (a conditional upsert that lets one `play` per user and song count per
 * 30 s) or the complete/skip signal. Nothing reads history. Answers in input order: null when
 * that caller may not open the song, else whether the play passed the guard (the caller adds
 * counted plays to the counters).
 *
 * An upsert may touch a row once per statement, so the events of one user and song go in
 * successive statements (rounds) of one transaction, oldest first; rows are upserted in key
 * order, so concurrent batches lock alike and cannot deadlock.
 */
export async function recordPlays(
  db: Db,
  inputs: readonly PlayInput[],
): Promise<({ counted: boolean } | null)[]> {
  const rounds: Entry[][] = [];
  const seen = new Map<string, number>();
  inputs.forEach((input, index) => {
    const key = `${input.userId}/${input.songId}`;
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    if (round === rounds.length) rounds.push([]);
    rounds[round]!.push({ index, input });
  });
  const results = new Array<{ counted: boolean } | null>(inputs.length).fill(null);
  const record = async (tx: Executor, round: Entry[]) => {
    for (const row of await recordRound(tx, round)) results[row.index] = { counted: row.counted };
  };
  if (rounds.length === 1) await record(db, rounds[0]!);
  else
    await withTx(db, async (tx) => {
      for (const round of rounds) await record(tx, round);
    });
  return results;
}

/** One round of `recordPlays`: no user and song twice. Returns the rows whose song was found. */
function recordRound(db: Executor, round: Entry[]) {
  const column = (type: SqlArrayType, pick: (entry: Entry) => string | number | boolean | null) =>
    sqlArray(round.map(pick), type);
  return rowsOf<{ index: number; counted: boolean }>(
    db,
    sql`with input as (
      select i.* from unnest(
        ${column('int', (r) => r.index)},
        ${column('uuid', (r) => r.input.userId)}, ${column('uuid', (r) => r.input.songId)},
        ${column('text', (r) => r.input.event)}, ${column('int', (r) => r.input.positionMs)},
        ${column('timestamptz', (r) => r.input.at.toISOString())},
        ${column('bool', (r) => r.input.scope.seesAll)},
        ${column('uuid', (r) => r.input.scope.ownArtistId)}
      ) as i(index, user_id, song_id, event, position_ms, played_at, sees_all, own_artist_id)
      join ${songs} on songs.id = i.song_id
      where ${songInRowScope(sql`i.sees_all`, sql`i.own_artist_id`)}
    ), logged as (
      insert into ${playEvents} (user_id, song_id, event, position_ms, played_at)
      select user_id, song_id, event, position_ms, played_at from input order by index
    ), counted as (
      insert into ${playCountGuards} (user_id, song_id, counted_at)
      select user_id, song_id, played_at from input where event = 'play' order by user_id, song_id
      on conflict (user_id, song_id) do update set counted_at = excluded.counted_at
        where ${playCountGuards}.counted_at <= excluded.counted_at - make_interval(secs => ${COUNT_INTERVAL_SEC})
      returning user_id, song_id
    ), signalled as (
      insert into ${listenerSignals} (user_id, song_id, completes, skips, last_completed_at)
      select user_id, song_id, (event = 'complete')::int, (event = 'skip')::int,
        case when event = 'complete' then played_at end
      from input where event <> 'play' order by user_id, song_id
      on conflict (user_id, song_id) do update set
        completes = ${listenerSignals}.completes + excluded.completes,
        skips = ${listenerSignals}.skips + excluded.skips,
        last_completed_at = greatest(${listenerSignals}.last_completed_at, excluded.last_completed_at)
    )
    select input.index, counted.song_id is not null as counted
    from input left join counted using (user_id, song_id)`,
  );
}

/** Counted plays of one song in one hour, as the aggregator hands them over. */
export interface HourPlays {
  hour: Date;
  songId: string;
  plays: number;
}

/**
 * Adds a batch of counted plays to the hour buckets and the window totals, with one statement
 * and rows in key order (so concurrent batches from several nodes lock alike). A window total
 * is only raised while the bucket's hour is still inside what that window has not rolled past
 * yet, so a late (backdated or late-flushed) play can never leave a total nobody subtracts.
 * Songs deleted meanwhile are skipped: their buckets would be orphans and their totals a
 * foreign-key error.
 */
export async function addTrendingPlays(tx: Executor, batch: HourPlays[]): Promise<void> {
  if (!batch.length) return;
  const hours = sqlArray(
    batch.map((b) => b.hour.toISOString()),
    'timestamptz',
  );
  const plays = sqlArray(
    batch.map((b) => b.plays),
    'int',
  );
  const inWindow = (window: TrendingWindow) => sql`case when b.hour >= coalesce(
      (select rolled_until from ${trendingRolls} where window_name = ${window}), '-infinity') then b.plays else 0 end`;
  await tx.execute(sql`with b as (
      select c.hour, c.song_id, c.plays
      from unnest(${hours}, ${uuidList(batch.map((b) => b.songId))}, ${plays}) as c(hour, song_id, plays)
      join ${songs} on songs.id = c.song_id
    ), bucketed as (
      insert into ${songPlayBuckets} (hour, song_id, plays)
      select hour, song_id, plays from b order by hour, song_id
      on conflict (hour, song_id) do update set plays = ${songPlayBuckets}.plays + excluded.plays
    )
    insert into ${songTrending} (song_id, plays_24h, plays_7d, plays_30d)
    select song_id, sum(${inWindow('24h')}), sum(${inWindow('7d')}), sum(${inWindow('30d')})
    from b group by song_id order by song_id
    on conflict (song_id) do update set
      plays_24h = ${songTrending}.plays_24h + excluded.plays_24h,
      plays_7d = ${songTrending}.plays_7d + excluded.plays_7d,
      plays_30d = ${songTrending}.plays_30d + excluded.plays_30d`);
}

// ---------------------------------------------------------------------------------------------
// Trending windows

const TRENDING_LOCK = sql`hashtext('discovery.trending-roll')`;

/** Serialises rolls across nodes; a second roller waits, then finds nothing left to do. */
export async function lockTrendingRoll(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${TRENDING_LOCK})`);
}

/**
 * Taken by every batch of counted plays: batches (from any node) run side by side, but never
 * beside a roll, which would otherwise subtract buckets a batch is adding to, or deadlock with
 * it on totals rows locked in another order.
 */
export async function lockTrendingShared(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${TRENDING_LOCK})`);
}

export async function rolledUntil(db: Executor): Promise<Map<TrendingWindow, Date>> {
  const rows = await db.select().from(trendingRolls);
  return new Map(rows.map((r) => [r.window as TrendingWindow, r.rolledUntil]));
}

/**
 * Subtracts from one window's totals the buckets in [from, until): the hours that have left
 * the window since the last roll (every older hour when it never rolled). Returns the albums
 * whose songs' totals changed.
 */
export async function rollWindow(
  tx: Executor,
  window: TrendingWindow,
  from: Date | undefined,
  until: Date,
): Promise<string[]> {
  const column = sql.identifier(trendingColumn[window].name);
  const changed = await rowsOf<{ albumId: string }>(
    tx,
    sql`with rolled as (
      update ${songTrending} t set ${column} = t.${column} - b.plays
      from (select song_id, sum(plays)::int as plays from ${songPlayBuckets}
        where hour < ${until.toISOString()}::timestamptz
          ${from ? sql`and hour >= ${from.toISOString()}::timestamptz` : sql``}
        group by song_id) b
      where t.song_id = b.song_id
      returning t.song_id
    )
    select distinct s.album_id as "albumId" from rolled join ${songs} s on s.id = rolled.song_id`,
  );
  await tx
    .insert(trendingRolls)
    .values({ window, rolledUntil: until })
    .onConflictDoUpdate({ target: trendingRolls.window, set: { rolledUntil: until } });
  return changed.map((r) => r.albumId);
}

/** Per album (of `albumIds`, or all), the 30-day plays of its songs; albums without any are left out. */
export const albumRecentPlays = (
  albumIds?: readonly string[],
): SQL => sql`select s.album_id, sum(t.plays_30d)::int
  from ${songTrending} t join ${songs} s on s.id = t.song_id
  where t.plays_30d > 0 ${albumIds ? sql`and s.album_id = any(${uuidList(albumIds)})` : sql``}
  group by s.album_id`;

/** Buckets older than the longest window are no longer in any total. */
export async function pruneBuckets(tx: Executor, before: Date): Promise<void> {
  await tx.delete(songPlayBuckets).where(lt(songPlayBuckets.hour, before));
}

/** Song ids and plays in one window, most played first, ties by id; only `songVisible` songs. */
export async function trendingSongs(
  db: Executor,
  window: TrendingWindow,
  limit: number,
  songVisible: SQL | undefined,
): Promise<{ songId: string; plays: number }[]> {
  const plays = trendingColumn[window];
  return (
    db
      .select({ songId: songTrending.songId, plays })
      .from(songTrending)
      .innerJoin(songs, eq(songs.id, songTrending.songId))
      .where(and(gt(plays, 0), songVisible))
      // NULLS LAST as in the index, so the walk reads the index in order and stops at `limit`.
      .orderBy(sql`${plays} desc nulls last`, asc(songTrending.songId))
      .limit(limit)
  );
}

// ---------------------------------------------------------------------------------------------
// Recently played

export interface FeedPosition {
  playedAt: Date;
  id: number;
}

/** A user's `play` events of songs they may still open, newest first, after `cursor`. */
export function recentPlays(
  db: Executor,
  userId: string,
  options: { limit: number; cursor?: FeedPosition; songVisible: SQL | undefined },
): Promise<{ id: number; playedAt: Date; songId: string }[]> {
  const { cursor } = options;
  return db
    .select({ id: playEvents.id, playedAt: playEvents.playedAt, songId: playEvents.songId })
    .from(playEvents)
    .innerJoin(songs, eq(songs.id, playEvents.songId))
    .where(
      and(
        eq(playEvents.userId, userId),
        eq(playEvents.event, 'play'),
        options.songVisible,
        cursor
          ? sql`(${playEvents.playedAt}, ${playEvents.id}) < (${cursor.playedAt.toISOString()}::timestamptz, ${cursor.id}::bigint)`
          : undefined,
      ),
    )
    .orderBy(sql`${playEvents.playedAt} desc nulls last`, sql`${playEvents.id} desc nulls last`)
    .limit(options.limit);
}

// ---------------------------------------------------------------------------------------------
// Recommendations

/** What content scoring needs to know about a song. */
export interface SongFeatures {
  id: string;
  artistId: string;
  /** Lower-cased. */
  genre: string;
  releaseYear: number;
}

// Queries name `songs` unaliased: the catalog's visibility conditions refer to it by name.
const featureColumns = sql`songs.id, songs.artist_id as "artistId", lower(songs.genre) as genre,
  a.release_year as "releaseYear"`;

/** Features of a song, or undefined when `songVisible` hides it. */
export async function songFeatures(
  db: Executor,
  songId: string,
  songVisible: SQL | undefined,
): Promise<SongFeatures | undefined> {
  const [row] = await rowsOf<SongFeatures>(
    db,
    sql`select ${featureColumns} from ${songs} join ${albums} a on a.id = songs.album_id
      where songs.id = ${songId}::uuid and ${songVisible ?? sql`true`}`,
  );
  return row;
}

/** Features of songs by id, whatever their visibility (the seeds of a taste profile). */
export function featuresOf(db: Executor, ids: string[]): Promise<SongFeatures[]> {
  if (!ids.length) return Promise.resolve([]);
  return rowsOf<SongFeatures>(
    db,
    sql`select ${featureColumns} from ${songs} join ${albums} a on a.id = songs.album_id
      where songs.id = any(${uuidList(ids)})`,
  );
}

/**
 * What a recommendation list must leave out besides hidden songs: the seeds, every song the
 * viewer skipped, and for personal recommendations every song they have heard at all.
 */
export interface Exclusions {
  songIds: string[];
  skippedBy: string | null;
  heardBy: string | null;
}

/** `and ...` conditions excluding `songId` (a song id column or expression) per `ex`. */
function excluding(ex: Exclusions, songId: SQL): SQL {
  const parts: SQL[] = [];
  if (ex.songIds.length) parts.push(sql`and ${songId} <> all(${uuidList(ex.songIds)})`);
  if (ex.heardBy) {
    parts.push(sql`and not exists (select 1 from ${listenerSignals} x
      where x.user_id = ${ex.heardBy}::uuid and x.song_id = ${songId})`);
    parts.push(sql`and not exists (select 1 from ${playCountGuards} g
      where g.user_id = ${ex.heardBy}::uuid and g.song_id = ${songId})`);
  } else if (ex.skippedBy) {
    parts.push(sql`and not exists (select 1 from ${listenerSignals} x
      where x.user_id = ${ex.skippedBy}::uuid and x.song_id = ${songId} and x.skips > 0)`);
  }
  return sql.join(parts, sql` `);
}

/** How many neighbours a seed contributes, and how many neighbours are weighed at most. */
const LISTENERS_PER_SEED = 50;
const MAX_NEIGHBOURS = 200;

/**
 * Item-based collaborative filtering over a bounded neighbourhood: the listeners who most
 * recently finished the seeds (weighted by how many seeds they share), and per song they have
 * an opinion on, the weighted balance of finishing (+1) against skipping (-1) as a share of
 * the total weight. Positive balances of listed songs only (recommendations never show hidden
 * content, to anyone), best first, with their features.
 */
export function collaborativeScores(
  db: Executor,
  seedIds: string[],
  ex: Exclusions,
  limit: number,
): Promise<(SongFeatures & { score: number })[]> {
  if (!seedIds.length) return Promise.resolve([]);
  const viewer = ex.heardBy ?? ex.skippedBy;
  const notViewer = viewer ? sql`and x.user_id <> ${viewer}::uuid` : sql``;
  return rowsOf<SongFeatures & { score: number }>(
    db,
    sql`with seeds as (select unnest(${uuidList(seedIds)}) as song_id),
    neighbours as (
      select n.user_id, count(*)::int as weight from seeds
      cross join lateral (
        -- A finish sets last_completed_at, so "not null" is "finished it", as an index range.
        select x.user_id from ${listenerSignals} x
        where x.song_id = seeds.song_id and x.last_completed_at is not null ${notViewer}
        order by x.last_completed_at desc nulls last limit ${LISTENERS_PER_SEED}
      ) n
      group by n.user_id order by weight desc, n.user_id limit ${MAX_NEIGHBOURS}
    ), votes as (
      select ls.song_id, sum(n.weight * sign(ls.completes - ls.skips))::float8 as balance
      from ${listenerSignals} ls join neighbours n on n.user_id = ls.user_id
      where true ${excluding(ex, sql`ls.song_id`)}
      group by ls.song_id
    )
    select ${featureColumns}, balance / (select sum(weight) from neighbours)::float8 as score
    from votes join ${songs} on songs.id = votes.song_id join ${albums} a on a.id = songs.album_id
    where balance > 0 and songs.listed
    order by balance desc, votes.song_id limit ${limit}`,
  );
}

/**
 * Listed songs sharing an artist or a genre (lower-cased) with a taste, with their features:
 * the content candidates. Same artist first, then closest in era, then most played.
 */
export function contentCandidates(
  db: Executor,
  taste: { artistIds: string[]; genres: string[]; year: number | null },
  ex: Exclusions,
  limit: number,
): Promise<SongFeatures[]> {
  if (!taste.artistIds.length && !taste.genres.length) return Promise.resolve([]);
  const byArtist = taste.artistIds.length
    ? sql`songs.artist_id = any(${uuidList(taste.artistIds)})`
    : sql`false`;
  const byGenre = taste.genres.length
    ? sql`lower(songs.genre) in (${sql.join(
        taste.genres.map((g) => sql`${g}`),
        sql`, `,
      )})`
    : sql`false`;
  const era = taste.year === null ? sql`0` : sql`abs(a.release_year - ${taste.year}::int)`;
  return rowsOf<SongFeatures>(
    db,
    sql`select ${featureColumns} from ${songs} join ${albums} a on a.id = songs.album_id
      where songs.listed and (${byArtist} or ${byGenre}) ${excluding(ex, sql`songs.id`)}
      order by (${byArtist}) desc, ${era}, songs.play_count desc, songs.id limit ${limit}`,
  );
}

/** The fallback: listed songs trending this week, then the most played of all time. */
export async function fallbackCandidates(
  db: Executor,
  ex: Exclusions,
  limit: number,
): Promise<{ songId: string; weeklyPlays: number }[]> {
  const trending = await rowsOf<{ songId: string; weeklyPlays: number }>(
    db,
    sql`select t.song_id as "songId", t.plays_7d as "weeklyPlays" from ${songTrending} t
      join ${songs} on songs.id = t.song_id
      where t.plays_7d > 0 and songs.listed ${excluding(ex, sql`t.song_id`)}
      order by t.plays_7d desc nulls last, t.song_id limit ${limit}`,
  );
  if (trending.length >= limit) return trending;
  const taken = new Set(trending.map((t) => t.songId));
  // Backwards along the catalog's (play_count, id) index: no sort of the whole catalog.
  const popular = await rowsOf<{ songId: string }>(
    db,
    sql`select songs.id as "songId" from ${songs} where songs.listed ${excluding(ex, sql`songs.id`)}
      order by songs.play_count desc, songs.id desc limit ${limit}`,
  );
  const rest = popular.filter((p) => !taken.has(p.songId)).map((p) => ({ songId: p.songId, weeklyPlays: 0 }));
  return [...trending, ...rest].slice(0, limit);
}

/** A listener's taste: songs they finished more often than they skipped, most recent first. */
export async function likedSongs(db: Executor, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ songId: listenerSignals.songId })
    .from(listenerSignals)
    .where(and(eq(listenerSignals.userId, userId), gt(listenerSignals.completes, listenerSignals.skips)))
    .orderBy(sql`${listenerSignals.lastCompletedAt} desc nulls last`, asc(listenerSignals.songId))
    .limit(limit);
  return rows.map((r) => r.songId);
}

/** Songs a listener started lately and never skipped: the taste of someone who finishes nothing. */
export async function playedSongs(db: Executor, userId: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ songId: playCountGuards.songId })
    .from(playCountGuards)
    .where(
      and(
        eq(playCountGuards.userId, userId),
        sql`not exists (select 1 from ${listenerSignals} x where x.user_id = ${userId}::uuid
          and x.song_id = ${playCountGuards.songId} and x.skips > 0)`,
      ),
    )
    .orderBy(desc(playCountGuards.countedAt), asc(playCountGuards.songId))
    .limit(limit);
  return rows.map((r) => r.songId);
}

// ---------------------------------------------------------------------------------------------
// Analytics (visible content only)

/** Listed albums by followers, ties by id; optionally one genre (lower-cased). */
export async function topAlbums(db: Executor, options: { limit: number; genre?: string }) {
  return db
    .select({ id: albums.id, followerCount: albums.followerCount })
    .from(albums)
    .where(
      and(
        eq(albums.listed, true),
        options.genre ? eq(sql`lower(${albums.genre})`, options.genre) : undefined,
      ),
    )
    .orderBy(desc(albums.followerCount), asc(albums.id))
    .limit(options.limit);
}

/**
 * Listed albums and songs per genre, grouped case-insensitively, named by the spelling most
 * albums use (most songs when no album has it; ties in byte order).
 */
export function genreStats(db: Executor) {
  return rowsOf<{ genre: string; albumCount: number; songCount: number }>(
    db,
    sql`with spellings as (
      select lower(genre) as key, genre, 0 as source, count(*)::int as n from ${albums} where listed group by genre
      union all
      select lower(genre), genre, 1, count(*)::int from ${songs} where listed group by genre
    ), named as (
      select distinct on (key) key, genre from spellings order by key, source, n desc, genre collate "C"
    ), counted as (
      select key, coalesce(sum(n) filter (where source = 0), 0)::int as albums,
        coalesce(sum(n) filter (where source = 1), 0)::int as songs
      from spellings group by key
    )
    select named.genre, counted.albums as "albumCount", counted.songs as "songCount"
    from counted join named using (key)
    order by counted.albums desc, counted.songs desc, key collate "C"`,
  );
}

/** An artist's listed albums per release year, ascending. */
export function artistTimeline(db: Executor, artistId: string) {
  return db
    .select({ year: albums.releaseYear, albumCount: sql<number>`count(*)::int` })
    .from(albums)
    .where(and(eq(albums.artistId, artistId), eq(albums.listed, true)))
    .groupBy(albums.releaseYear)
    .orderBy(asc(albums.releaseYear));
}
