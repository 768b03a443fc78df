import { eq, type SQL, sql } from 'drizzle-orm';
import { type Executor, sqlArray } from '../../platform/db.js';
import { albums, artists, songs } from './catalog.tables.js';

/**
 * 0..100 from followers and recent plays (the last 30 days), logarithmic so a few early fans
 * move it and a hit does not saturate it at once; kept as a column so sorting by it is an
 * index scan.
 */
const popularityOf = (followers: SQL, recentPlays: SQL) =>
  sql`least(100, floor(12 * ln(1 + greatest(0, ${followers}) + greatest(0, ${recentPlays}) / 10.0)))::int`;

/** Artist follower counter; the following module calls it inside its own transaction. */
export async function incrementArtistFollowers(tx: Executor, artistId: string, delta: number): Promise<void> {
  await tx
    .update(artists)
    .set({ followerCount: sql`greatest(0, ${artists.followerCount} + ${delta})` })
    .where(eq(artists.id, artistId));
}

/** Album follower counter (and popularity); the following module calls it in its transaction. */
export async function incrementAlbumFollowers(tx: Executor, albumId: string, delta: number): Promise<void> {
  await tx
    .update(albums)
    .set({
      followerCount: sql`greatest(0, ${albums.followerCount} + ${delta})`,
      popularity: popularityOf(sql`${albums.followerCount} + ${delta}`, sql`${albums.recentPlayCount}`),
    })
    .where(eq(albums.id, albumId));
}

/**
 * Adds many follows' worth to album and artist follower counters (and album popularity) in two
 * statements: the demo's generated follows, where one increment per album would take seconds.
 */
export async function addFollowerCounts(
  tx: Executor,
  counts: { albums: ReadonlyMap<string, number>; artists: ReadonlyMap<string, number> },
): Promise<void> {
  const batch = (map: ReadonlyMap<string, number>) =>
    sql`unnest(${sqlArray([...map.keys()], 'uuid')}, ${sqlArray([...map.values()], 'int')}) as c(id, n)`;
  if (counts.albums.size) {
    await tx.execute(sql`update ${albums} set follower_count = ${albums.followerCount} + c.n,
        popularity = ${popularityOf(sql`${albums.followerCount} + c.n`, sql`${albums.recentPlayCount}`)}
      from ${batch(counts.albums)} where ${albums.id} = c.id`);
  }
  if (counts.artists.size) {
    await tx.execute(sql`update ${artists} set follower_count = ${artists.followerCount} + c.n
      from ${batch(counts.artists)} where ${artists.id} = c.id`);
  }
}

/** Counted plays of one song to add: in all, and those inside the last 30 days. */
export interface SongPlays {
  plays: number;
  recentPlays: number;
}

/**
 * Adds counted plays (per song id) to the songs, their albums and the albums' popularity, in
 * the caller's transaction, and returns the albums it changed. Rows are locked albums first,
 * then songs, each in id order: the order the catalog's own writes take (album, then its
 * songs), so a batch and an album edit wait for each other instead of deadlocking. Songs
 * deleted meanwhile are skipped.
 */
export async function addSongPlays(tx: Executor, counts: ReadonlyMap<string, SongPlays>): Promise<string[]> {
  if (!counts.size) return [];
  const entries = [...counts];
  const songIds = sqlArray(
    entries.map(([id]) => id),
    'uuid',
  );
  const batch = sql`unnest(${songIds}, ${sqlArray(
    entries.map(([, c]) => c.plays),
    'bigint',
  )}, ${sqlArray(
    entries.map(([, c]) => c.recentPlays),
    'int',
  )}) as c(song_id, plays, recent_plays)`;
  await tx.execute(sql`select id from ${albums}
    where id in (select album_id from ${songs} where id = any(${songIds})) order by id for no key update`);
  const touched = (await tx.execute(sql`update ${albums} set
      play_count = ${albums.playCount} + t.plays,
      recent_play_count = ${albums.recentPlayCount} + t.recent_plays,
      popularity = ${popularityOf(sql`${albums.followerCount}`, sql`${albums.recentPlayCount} + t.recent_plays`)}
    from (select s.album_id, sum(c.plays) as plays, sum(c.recent_plays)::int as recent_plays
      from ${batch} join ${songs} s on s.id = c.song_id group by s.album_id) t
    where ${albums.id} = t.album_id
    returning ${albums.id} as id`)) as unknown as { rows: { id: string }[] };
  await tx.execute(sql`select id from ${songs} where id = any(${songIds}) order by id for no key update`);
  await tx.execute(sql`update ${songs} set play_count = ${songs.playCount} + c.plays
    from ${batch} where ${songs.id} = c.song_id`);
  return touched.rows.map((r) => r.id);
}

/**
 * Sets the recent plays (and popularity) of the albums `albumIds` (every album when omitted) to
 * `totals`, a query yielding `(album_id, plays)` for albums with plays in the last 30 days; the
 * others get 0. Only albums whose number changes are written, in id order. Returns those albums.
 */
export async function setAlbumRecentPlays(
  tx: Executor,
  totals: SQL,
  albumIds?: readonly string[],
): Promise<string[]> {
  if (albumIds && !albumIds.length) return [];
  const only = albumIds ? sql`and a.id = any(${sqlArray(albumIds, 'uuid')})` : sql``;
  const result = (await tx.execute(sql`with target as (
      select a.id, coalesce(t.plays, 0)::int as plays
      from ${albums} a left join (${totals}) t(album_id, plays) on t.album_id = a.id
      where a.recent_play_count is distinct from coalesce(t.plays, 0) ${only}
      order by a.id for no key update of a
    )
    update ${albums} set recent_play_count = target.plays,
      popularity = ${popularityOf(sql`${albums.followerCount}`, sql`target.plays`)}
    from target where ${albums.id} = target.id
    returning ${albums.id} as id`)) as unknown as { rows: { id: string }[] };
  return result.rows.map((r) => r.id);
}
