import { and, asc, eq, gt, lt, type SQL, sql } from 'drizzle-orm';
import { type Executor, rowsOf, sqlArray } from '../../platform/db.js';
import { songs } from '../catalog/index.js';
import { songPlayBuckets, songTrending, trendingRolls } from './discovery.tables.js';

const uuidList = (ids: readonly string[]) => sqlArray(ids, 'uuid');

export const TRENDING_WINDOWS = ['24h', '7d', '30d'] as const;
export type TrendingWindow = (typeof TRENDING_WINDOWS)[number];

const trendingColumn = {
  '24h': songTrending.plays24h,
  '7d': songTrending.plays7d,
  '30d': songTrending.plays30d,
} as const;

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
