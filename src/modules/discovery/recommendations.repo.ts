import { and, asc, desc, eq, gt, type SQL, sql } from 'drizzle-orm';
import { type Executor, rowsOf, sqlArray } from '../../platform/db.js';
import { albums, listedSong, songs } from '../catalog/index.js';
import { listenerSignals, playCountGuards, songTrending } from './discovery.tables.js';

const uuidList = (ids: readonly string[]) => sqlArray(ids, 'uuid');

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
    where balance > 0 and ${listedSong()}
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
      where ${listedSong()} and (${byArtist} or ${byGenre}) ${excluding(ex, sql`songs.id`)}
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
      where t.plays_7d > 0 and ${listedSong()} ${excluding(ex, sql`t.song_id`)}
      order by t.plays_7d desc nulls last, t.song_id limit ${limit}`,
  );
  if (trending.length >= limit) return trending;
  const taken = new Set(trending.map((t) => t.songId));
  // Backwards along the catalog's (play_count, id) index: no sort of the whole catalog.
  const popular = await rowsOf<{ songId: string }>(
    db,
    sql`select songs.id as "songId" from ${songs} where ${listedSong()} ${excluding(ex, sql`songs.id`)}
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
