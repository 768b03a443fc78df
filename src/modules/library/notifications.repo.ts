import { eq, type SQL, sql } from 'drizzle-orm';
import { type Executor, rowsOf } from '../../platform/db.js';
import { albums, artists, listedAlbum, listedSong, songs } from '../catalog/index.js';
import { liveEvents } from '../live/index.js';
import { albumFollowPeriods, albumFollows, artistFollowPeriods, artistFollows } from './following.tables.js';
import { notificationReads, notificationWatermarks } from './notifications.tables.js';

export const NOTIFICATION_TYPES = ['album.song_added', 'artist.album_added', 'event.started'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * Where a notification sits in a feed: its creation time in microseconds since the epoch (a
 * JavaScript Date keeps only milliseconds, too coarse to page by) and its source id for ties.
 */
export interface Position {
  us: string;
  sourceId: string;
}

export interface FeedRow {
  userId: string;
  type: NotificationType;
  /** The song of an `album.song_added`, the album of an `artist.album_added`, the event of an `event.started`. */
  sourceId: string;
  position: string;
  createdAt: Date;
  albumId: string | null;
  albumTitle: string | null;
  eventId: string | null;
  eventTitle: string | null;
  songId: string | null;
  songTitle: string | null;
  artistId: string;
  artistName: string;
  readAt: Date | null;
}

interface RawFeedRow {
  user_id: string;
  type: NotificationType;
  source_id: string;
  position: string;
  created_at: Date | string;
  album_id: string | null;
  album_title: string | null;
  event_id: string | null;
  event_title: string | null;
  song_id: string | null;
  song_title: string | null;
  artist_id: string;
  artist_name: string;
  read_at: Date | string | null;
}

const asDate = (value: Date | string) => (value instanceof Date ? value : new Date(value));

function toFeedRow(raw: RawFeedRow): FeedRow {
  return {
    userId: raw.user_id,
    type: raw.type,
    sourceId: raw.source_id,
    position: raw.position,
    createdAt: asDate(raw.created_at),
    albumId: raw.album_id,
    albumTitle: raw.album_title,
    eventId: raw.event_id,
    eventTitle: raw.event_title,
    songId: raw.song_id,
    songTitle: raw.song_title,
    artistId: raw.artist_id,
    artistName: raw.artist_name,
    readAt: raw.read_at === null ? null : asDate(raw.read_at),
  };
}

/** When an album's followers hear of it: its scheduled release, else its creation. */
const albumAnnouncedAt = sql.raw('coalesce(released_at, created_at)');

const microseconds = (column: SQL) => sql`((extract(epoch from ${column}) * 1000000)::bigint)::text`;
const timestampOf = (us: string) => sql`(timestamptz 'epoch' + ${us}::bigint * interval '1 microsecond')`;

interface FeedScope {
  userIds: string[];
  /** Only the notifications of these songs or albums (delivering one event, read marks). */
  sourceIds?: string[];
}

/**
 * The notification feeds of `userIds`, derived at read time (read-time fan-out, see
 * docs/architecture.md): every song added to an album while the user followed it, and every
 * album an artist added (or released, when scheduled) while the user followed the artist. Only
 * content everyone may see (`listed`: a song only when it and its album are) counts: a
 * notification goes to every follower alike and must never reveal hidden content. A deleted
 * song or album takes its notifications with it by construction.
 *
 * The rows are narrow (user, type, source, time, album, read time), all read from indexes
 * (`songs_album_feed_idx`, `albums_artist_feed_idx`): a feed of 10,000 notifications is counted
 * and cut to a page without reading a song row. Titles and names are added to the page's rows
 * only, by `described`.
 */
function items(scope: FeedScope): SQL {
  const users = scope.userIds;
  const onlySongs = scope.sourceIds ? sql`and s.id in ${scope.sourceIds}` : sql``;
  const onlyAlbums = scope.sourceIds ? sql`and a.id in ${scope.sourceIds}` : sql``;
  const onlyEvents = scope.sourceIds ? sql`and e.id in ${scope.sourceIds}` : sql``;
  // Materialised, the follows are scanned once by the leader: a parallel plan (which PostgreSQL
  // picks for a thousand follows) costs more to start its workers than the scan itself.
  return sql`
    with album_subs as materialized (
      select user_id, album_id, created_at as since, null::timestamptz as until
        from ${albumFollows} where user_id in ${users}
      union all
      select user_id, album_id, started_at, ended_at
        from ${albumFollowPeriods} where user_id in ${users}
    ), artist_subs as (
      select user_id, artist_id, created_at as since, null::timestamptz as until
        from ${artistFollows} where user_id in ${users}
      union all
      select user_id, artist_id, started_at, ended_at
        from ${artistFollowPeriods} where user_id in ${users}
    ), items as (
      select sub.user_id, 'album.song_added' as type, s.id as source_id, s.created_at, s.album_id
        from album_subs sub
        join ${songs} s on s.album_id = sub.album_id and ${listedSong('s')}
         and s.created_at > sub.since and (sub.until is null or s.created_at <= sub.until)
       where true ${onlySongs}
      union all
      select sub.user_id, 'artist.album_added', a.id, ${albumAnnouncedAt}, a.id
        from artist_subs sub
        join ${albums} a on a.artist_id = sub.artist_id and ${listedAlbum('a')}
         and ${albumAnnouncedAt} > sub.since and (sub.until is null or ${albumAnnouncedAt} <= sub.until)
       where true ${onlyAlbums}
      union all
      select sub.user_id, 'event.started', e.id, e.went_live_at, null::uuid
        from artist_subs sub
        join ${liveEvents} e on e.artist_id = sub.artist_id
         and e.went_live_at > sub.since and (sub.until is null or e.went_live_at <= sub.until)
       where e.went_live_at is not null ${onlyEvents}
    )
    select * from items`;
}

/** `items` with each notification's read time: its own mark, else the user's watermark. */
function feed(scope: FeedScope): SQL {
  return sql`
    select i.*, coalesce(r.read_at, case when i.created_at <= w.read_through then w.read_through end) as read_at
      from (${items(scope)}) i
      left join ${notificationReads} r on r.user_id = i.user_id and r.source_id = i.source_id
      left join ${notificationWatermarks} w on w.user_id = i.user_id`;
}

/** Feed rows `rows` (a relation of `feed`'s columns) with their titles and names, in `order`. */
function described(rows: SQL, order: SQL): SQL {
  return sql`
    select p.user_id, p.type, p.source_id, p.created_at, p.read_at, ${microseconds(sql`p.created_at`)} as position,
           a.id as album_id, a.title as album_title, s.id as song_id, s.title as song_title,
           e.id as event_id, e.title as event_title,
           coalesce(a.artist_id, e.artist_id) as artist_id, coalesce(a.artist_name, ar.name) as artist_name
      from ${rows} p
      left join ${songs} s on p.type = 'album.song_added' and s.id = p.source_id
      left join ${albums} a on a.id = p.album_id
      left join ${liveEvents} e on p.type = 'event.started' and e.id = p.source_id
      left join ${artists} ar on ar.id = e.artist_id
     ${order}`;
}

interface PageOptions {
  limit: number;
  unreadOnly?: boolean;
  before?: Position;
  after?: Position;
}

/** Newest first strictly before `before`, or oldest first strictly after `after`. */
function pageOf(source: SQL, options: PageOptions): SQL {
  const { before, after } = options;
  const conditions = [
    options.unreadOnly ? sql`f.read_at is null` : undefined,
    before
      ? sql`(f.created_at, f.source_id) < (${timestampOf(before.us)}, ${before.sourceId}::uuid)`
      : undefined,
    after
      ? sql`(f.created_at, f.source_id) > (${timestampOf(after.us)}, ${after.sourceId}::uuid)`
      : undefined,
  ].filter((c): c is SQL => c !== undefined);
  const where = conditions.length ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
  return sql`select * from ${source} f ${where} order by ${pageOrder(options, 'f')} limit ${options.limit}`;
}

/** Newest first, or oldest first when paging forward (`after`). */
const pageOrder = (options: PageOptions, alias: string) => {
  const f = sql.raw(alias);
  return options.after
    ? sql`${f}.created_at asc, ${f}.source_id asc`
    : sql`${f}.created_at desc, ${f}.source_id desc`;
};

/** One page of a user's feed (replaying a stream reads oldest first after its last event). */
export async function listFeed(db: Executor, userId: string, options: PageOptions): Promise<FeedRow[]> {
  const page = pageOf(sql`(${feed({ userIds: [userId] })})`, options);
  const rows = await rowsOf<RawFeedRow>(
    db,
    described(sql`(${page})`, sql`order by ${pageOrder(options, 'p')}`),
  );
  return rows.map(toFeedRow);
}

/**
 * One page of a user's feed and their unread count, from one evaluation of the feed: on
 * PGlite, which runs one query at a time, that halves the cost of a request. The user's
 * watermark is read once and their read marks are joined to the feed as a set (a hash join over
 * their few marks), rather than looked up for each of thousands of notifications; only the
 * page's rows are described (titles, names).
 */
export async function feedPage(
  db: Executor,
  userId: string,
  options: PageOptions,
): Promise<{ rows: FeedRow[]; unreadCount: number }> {
  const unread = sql`(w.read_through is null or f.created_at > w.read_through)`;
  const page = pageOf(
    sql`(select f.*, coalesce(r.read_at, case when not ${unread} then w.read_through end) as read_at
           from f cross join w left join r on r.source_id = f.source_id)`,
    options,
  );
  const rows = await rowsOf<RawFeedRow & { unread_count: number }>(
    db,
    sql`with f as materialized (${items({ userIds: [userId] })}),
             w as (select (select read_through from ${notificationWatermarks} where user_id = ${userId}) as read_through),
             r as materialized (select source_id, read_at from ${notificationReads} where user_id = ${userId})
        select c.unread_count, d.*
          from (select (select count(*) from f cross join w where ${unread})
                     - (select count(*) from f cross join w join r on r.source_id = f.source_id where ${unread})
                       as unread_count) c
          left join lateral (${described(sql`(${page})`, sql``)}) d on true
         order by ${pageOrder(options, 'd')}`,
  );
  return {
    rows: rows.filter((row) => row.source_id !== null).map(toFeedRow),
    unreadCount: Number(rows[0]?.unread_count ?? 0),
  };
}

/**
 * The albums and artists whose changes can change the user's feed: those they follow or
 * followed (an ended follow keeps what arrived while it lasted).
 */
export async function feedSources(
  db: Executor,
  userId: string,
): Promise<{ albumIds: string[]; artistIds: string[] }> {
  const rows = await rowsOf<{ kind: 'album' | 'artist'; id: string }>(
    db,
    sql`select 'album' as kind, album_id as id from ${albumFollows} where user_id = ${userId}
        union
        select 'album', album_id from ${albumFollowPeriods} where user_id = ${userId}
        union
        select 'artist', artist_id from ${artistFollows} where user_id = ${userId}
        union
        select 'artist', artist_id from ${artistFollowPeriods} where user_id = ${userId}`,
  );
  return {
    albumIds: rows.filter((row) => row.kind === 'album').map((row) => row.id),
    artistIds: rows.filter((row) => row.kind === 'artist').map((row) => row.id),
  };
}

/** The notifications of `sourceIds` in the feeds of `userIds` (who of them hears of a new song). */
export async function findBySource(db: Executor, userIds: string[], sourceIds: string[]): Promise<FeedRow[]> {
  if (!userIds.length || !sourceIds.length) return [];
  const rows = await rowsOf<RawFeedRow>(db, described(sql`(${feed({ userIds, sourceIds })})`, sql``));
  return rows.map(toFeedRow);
}

/** Marks the user's unread notifications of `sourceIds` read; sources not in their feed are ignored. */
export async function markRead(db: Executor, userId: string, sourceIds: string[]): Promise<void> {
  if (!sourceIds.length) return;
  await db.execute(sql`
    insert into ${notificationReads} (user_id, source_id, album_id)
    select f.user_id, f.source_id, coalesce(f.album_id, f.source_id)
      from (${feed({ userIds: [userId], sourceIds })}) f
     where f.read_at is null
    on conflict do nothing`);
}

/** Marks everything in the user's feed up to now read, without touching a row per notification. */
export async function markAllRead(db: Executor, userId: string): Promise<void> {
  await db
    .insert(notificationWatermarks)
    .values({ userId, readThrough: sql`now()` })
    .onConflictDoUpdate({ target: notificationWatermarks.userId, set: { readThrough: sql`now()` } });
}

/** Where the notification of a song or album sits in feeds; undefined once it is deleted. */
export async function findPosition(db: Executor, sourceId: string): Promise<string | undefined> {
  const [row] = await rowsOf<{ us: string }>(
    db,
    sql`select ${microseconds(sql`created_at`)} as us from ${songs} where id = ${sourceId}
        union all
        select ${microseconds(albumAnnouncedAt)} from ${albums} where id = ${sourceId}
        union all
        select ${microseconds(sql`went_live_at`)} from ${liveEvents}
         where id = ${sourceId} and went_live_at is not null
        limit 1`,
  );
  return row?.us;
}

/** Read marks of a deleted song: its notifications are gone, so are their marks. */
export async function deleteReadsOfSource(db: Executor, sourceId: string): Promise<void> {
  await db.delete(notificationReads).where(eq(notificationReads.sourceId, sourceId));
}

/** Read marks of a deleted album and of its songs. */
export async function deleteReadsOfAlbum(db: Executor, albumId: string): Promise<void> {
  await db.delete(notificationReads).where(eq(notificationReads.albumId, albumId));
}
