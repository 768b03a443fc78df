import { and, eq, inArray, max, type SQL, sql } from 'drizzle-orm';
import { type Db, type Executor, rowsOf, type SqlArrayType, sqlArray, withTx } from '../../platform/db.js';
import { type SongScope, songInRowScope, songs } from '../catalog/index.js';
import { listenerSignals, type PlayEvent, playCountGuards, playEvents } from './discovery.tables.js';

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

/**
 * When the user's play of each song, and of any song of each album, last counted (the play
 * guard's time): what players show as "last played". Ids never played are left out.
 */
export async function lastPlayed(
  db: Executor,
  userId: string,
  ids: { songIds: string[]; albumIds: string[] },
): Promise<{ songs: Map<string, Date>; albums: Map<string, Date> }> {
  const songIds = [...new Set(ids.songIds)];
  const albumIds = [...new Set(ids.albumIds)];
  const [bySong, byAlbum] = await Promise.all([
    songIds.length
      ? db
          .select({ id: playCountGuards.songId, at: playCountGuards.countedAt })
          .from(playCountGuards)
          .where(and(eq(playCountGuards.userId, userId), inArray(playCountGuards.songId, songIds)))
      : [],
    albumIds.length
      ? db
          .select({ id: songs.albumId, at: max(playCountGuards.countedAt) })
          .from(playCountGuards)
          .innerJoin(songs, eq(songs.id, playCountGuards.songId))
          .where(and(eq(playCountGuards.userId, userId), inArray(songs.albumId, albumIds)))
          .groupBy(songs.albumId)
      : [],
  ]);
  const toMap = (rows: { id: string; at: Date | null }[]) =>
    new Map(rows.flatMap((r) => (r.at ? [[r.id, r.at] as const] : [])));
  return { songs: toMap(bySong), albums: toMap(byAlbum) };
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
