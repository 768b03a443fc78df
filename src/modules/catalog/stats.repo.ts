import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { type Executor, rowsOf } from '../../platform/db.js';
import { listedAlbum, listedSong } from './catalog.listed.js';
import { albums, songs } from './catalog.tables.js';

// ---------------------------------------------------------------------------------------------
// Analytics (visible content only)

/** Listed albums by followers, ties by id; optionally one genre (lower-cased). */
export async function topAlbums(db: Executor, options: { limit: number; genre?: string }) {
  return db
    .select({ id: albums.id, followerCount: albums.followerCount })
    .from(albums)
    .where(and(listedAlbum(), options.genre ? eq(sql`lower(${albums.genre})`, options.genre) : undefined))
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
      select lower(genre) as key, genre, 0 as source, count(*)::int as n from ${albums} where ${listedAlbum()} group by genre
      union all
      select lower(genre), genre, 1, count(*)::int from ${songs} where ${listedSong()} group by genre
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
    .where(and(eq(albums.artistId, artistId), listedAlbum()))
    .groupBy(albums.releaseYear)
    .orderBy(asc(albums.releaseYear));
}
