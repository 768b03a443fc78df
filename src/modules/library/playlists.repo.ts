import { and, asc, count, desc, eq, getTableColumns, inArray, or, type SQL, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  builtOnce,
  carriedTotal,
  type Executor,
  pageWithCarriedTotal,
  rowsOf,
  type SqlArrayType,
  sqlArray,
} from '../../platform/db.js';
import { albums, foldedName, listedSong, songs } from '../catalog/index.js';
import { users } from '../identity/index.js';
import { playlistFollows, playlists, playlistTracks } from './playlists.tables.js';

export type PlaylistRow = typeof playlists.$inferSelect;
/** A playlist with its owner's display name: everything the Playlist shape needs but the track stats. */
export type PlaylistCardRow = PlaylistRow & { ownerDisplayName: string };

interface PageWindow {
  limit: number;
  offset: number;
}

const cardColumns = { ...getTableColumns(playlists), ownerDisplayName: users.displayName };

/** Whether users and anonymous callers may see a song: playlists show only those, to everyone. */
const songListed = listedSong();

export async function insertPlaylist(
  db: Executor,
  values: { ownerId: string; name: string; description: string | null; isPublic: boolean },
): Promise<string> {
  const [row] = await db.insert(playlists).values(values).returning({ id: playlists.id });
  return row!.id;
}

export async function findPlaylistCard(db: Executor, id: string): Promise<PlaylistCardRow | undefined> {
  const [row] = await db
    .select(cardColumns)
    .from(playlists)
    .innerJoin(users, eq(users.id, playlists.ownerId))
    .where(eq(playlists.id, id));
  return row;
}

/**
 * Who may see the playlists of `ids` besides admins: public ones everyone, private ones their
 * owner (and, for a live event, the artist the owner's account belongs to). Missing ids are gone.
 */
export function findPlaylistAudiences(
  db: Executor,
  ids: string[],
): Promise<{ id: string; name: string; isPublic: boolean; ownerArtistId: string | null }[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .select({
      id: playlists.id,
      name: playlists.name,
      isPublic: playlists.isPublic,
      ownerArtistId: users.artistId,
    })
    .from(playlists)
    .innerJoin(users, eq(users.id, playlists.ownerId))
    .where(inArray(playlists.id, ids));
}

/** Takes the playlist's row lock: every edit of one playlist runs one after the other. */
export async function lockPlaylist(tx: Executor, id: string): Promise<PlaylistRow | undefined> {
  const [row] = await tx.select().from(playlists).where(eq(playlists.id, id)).for('update');
  return row;
}

export async function updatePlaylist(
  db: Executor,
  id: string,
  values: Partial<Pick<PlaylistRow, 'name' | 'description' | 'isPublic'>>,
): Promise<void> {
  await db
    .update(playlists)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(playlists.id, id));
}

export async function deletePlaylist(db: Executor, id: string): Promise<void> {
  await db.delete(playlists).where(eq(playlists.id, id));
}

/** Playlist cards (a playlist and its owner's name) as `fields`; `viaFollows` joins the follows. */
function cards<F extends Record<string, unknown>>(db: Executor, fields: F, viaFollows = false) {
  const query = db
    .select(fields as never)
    .from(playlists)
    .innerJoin(users, eq(users.id, playlists.ownerId))
    .$dynamic();
  return viaFollows ? query.innerJoin(playlistFollows, eq(playlistFollows.playlistId, playlists.id)) : query;
}

/** One page of playlist cards; `viaFollows` joins the follows, for the caller's followed list. */
function pageOfCards(
  db: Executor,
  where: SQL | undefined,
  order: SQL[],
  window: PageWindow & { viaFollows?: boolean },
): Promise<{ rows: PlaylistCardRow[]; total: number }> {
  return pageWithCarriedTotal<PlaylistCardRow>(
    cards(db, { ...cardColumns, total: carriedTotal() }, window.viaFollows)
      .where(where)
      .orderBy(...order)
      .limit(window.limit)
      .offset(window.offset),
    () => cards(db, { total: count() }, window.viaFollows).where(where) as Promise<{ total: number }[]>,
    window.offset,
  );
}

/** How many public playlists a user owns (the public profile's number). */
export async function countPublicPlaylists(db: Executor, ownerId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(playlists)
    .where(and(eq(playlists.ownerId, ownerId), eq(playlists.isPublic, true)));
  return row?.n ?? 0;
}

/** A user's playlists, newest first; only the public ones unless `includePrivate`. */
export function listOwnedPlaylists(
  db: Executor,
  ownerId: string,
  options: PageWindow & { includePrivate: boolean },
) {
  return pageOfCards(
    db,
    and(eq(playlists.ownerId, ownerId), options.includePrivate ? undefined : eq(playlists.isPublic, true)),
    [desc(playlists.createdAt), asc(playlists.id)],
    options,
  );
}

/** Playlists `userId` follows, newest follow first, leaving out other users' private ones. */
export function listFollowedPlaylists(db: Executor, userId: string, window: PageWindow) {
  return pageOfCards(
    db,
    and(eq(playlistFollows.userId, userId), or(eq(playlists.isPublic, true), eq(playlists.ownerId, userId))),
    [desc(playlistFollows.createdAt), asc(playlists.id)],
    { ...window, viaFollows: true },
  );
}

/** The condition and order of a public playlist search for `q` (a value or a placeholder). */
function publicSearch(q: unknown, pattern: unknown) {
  const name = sql`lower(${playlists.name})`;
  return {
    where: and(
      eq(playlists.isPublic, true),
      sql`(${q}::text <% ${playlists.name} or ${playlists.name} ilike ${pattern}::text)`,
    ),
    order: [
      sql`case when ${name} = ${q}::text then 0 when starts_with(${name}, ${q}::text) then 1 else 2 end`,
      sql`word_similarity(${q}::text, ${playlists.name}) desc`,
      asc(playlists.id),
    ],
  };
}

/** `searchPublicPlaylists`' page as a statement built once per executor (values as placeholders). */
function publicSearchStatement(db: Executor) {
  const { where, order } = publicSearch(sql.placeholder('q'), sql.placeholder('pattern'));
  return cards(db, { ...cardColumns, total: carriedTotal() })
    .where(where)
    .orderBy(...order)
    .limit(sql.placeholder('limit'))
    .offset(sql.placeholder('offset'))
    .prepare('playlists_public_search');
}

const publicSearchStatements = new WeakMap<Executor, Map<string, ReturnType<typeof publicSearchStatement>>>();

/**
 * Public playlists whose name matches `q` (lower-cased): trigram word similarity tolerates
 * typos, a substring match finds short words trigrams miss; the GIN trigram index answers both.
 * Order: exact name, then prefix, then closest match. Every search runs the same statement,
 * built once (building it with drizzle cost more than running it on an empty table) and named,
 * so that PostgreSQL parses it once per connection: 0.08 ms of its CPU per search instead of
 * 0.30-0.36 (parsed and planned anew each time; measured at size L with no public playlists).
 */
export async function searchPublicPlaylists(
  db: Executor,
  query: PageWindow & { q: string },
): Promise<{ rows: PlaylistCardRow[]; total: number }> {
  const pattern = `%${query.q.replace(/[\\%_]/g, '\\$&')}%`;
  const statement = builtOnce(publicSearchStatements, db, 'public', () => publicSearchStatement(db));
  const values = { q: query.q, pattern, limit: query.limit, offset: query.offset };
  return pageWithCarriedTotal<PlaylistCardRow>(
    statement.execute(values),
    () =>
      cards(db, { total: count() }).where(publicSearch(query.q, pattern).where) as Promise<
        { total: number }[]
      >,
    query.offset,
  );
}

/**
 * Track count and total duration of what readers see (listed songs only), per playlist. Counted
 * at read time because songs are hidden and shown by the catalog, which never tells playlists.
 */
export async function trackStats(
  db: Executor,
  playlistIds: string[],
): Promise<Map<string, { trackCount: number; durationMs: number }>> {
  if (!playlistIds.length) return new Map();
  const rows = await db
    .select({
      playlistId: playlistTracks.playlistId,
      trackCount: count(),
      durationMs: sql<number>`coalesce(sum(${songs.durationMs}), 0)::bigint`.mapWith(Number),
    })
    .from(playlistTracks)
    .innerJoin(songs, eq(songs.id, playlistTracks.songId))
    .where(and(inArray(playlistTracks.playlistId, playlistIds), songListed))
    .groupBy(playlistTracks.playlistId);
  return new Map(rows.map(({ playlistId, ...stats }) => [playlistId, stats]));
}

export interface EntryRow {
  id: string;
  songId: string;
  position: number;
  addedAt: Date;
  /** Whether readers see the song (listed); positions clients use count only these. */
  visible: boolean;
}

/** Every entry of a playlist in order (a playlist holds at most MAX_TRACKS). */
export function listEntries(db: Executor, playlistId: string): Promise<EntryRow[]> {
  return db
    .select({
      id: playlistTracks.id,
      songId: playlistTracks.songId,
      position: playlistTracks.position,
      addedAt: playlistTracks.addedAt,
      visible: sql<boolean>`coalesce(${songListed}, false)`,
    })
    .from(playlistTracks)
    .innerJoin(songs, eq(songs.id, playlistTracks.songId))
    .where(eq(playlistTracks.playlistId, playlistId))
    .orderBy(asc(playlistTracks.position), asc(playlistTracks.id));
}

/**
 * One window of the entries readers see (listed songs), in order: the entry at `offset` is the
 * one clients know as position `offset`.
 */
export function listVisibleEntries(
  db: Executor,
  playlistId: string,
  window: PageWindow,
): Promise<{ songId: string; addedAt: Date }[]> {
  return db
    .select({ songId: playlistTracks.songId, addedAt: playlistTracks.addedAt })
    .from(playlistTracks)
    .innerJoin(songs, eq(songs.id, playlistTracks.songId))
    .where(and(eq(playlistTracks.playlistId, playlistId), songListed))
    .orderBy(asc(playlistTracks.position), asc(playlistTracks.id))
    .limit(window.limit)
    .offset(window.offset);
}

/** How many entries a playlist holds and its last position (-1 when empty), for appends. */
export async function entryTail(
  tx: Executor,
  playlistId: string,
): Promise<{ entries: number; lastPosition: number }> {
  const [row] = await tx
    .select({
      entries: count(),
      lastPosition: sql<number>`coalesce(max(${playlistTracks.position}), -1)`.mapWith(Number),
    })
    .from(playlistTracks)
    .where(eq(playlistTracks.playlistId, playlistId));
  return row ?? { entries: 0, lastPosition: -1 };
}

const INSERT_CHUNK = 1000;

export async function insertEntries(
  tx: Executor,
  playlistId: string,
  entries: { songId: string; position: number }[],
): Promise<void> {
  const addedAt = new Date();
  // Three array parameters per statement instead of five parameters a row: building and binding
  // a 1,000-row VALUES list cost more than the insert (on PGlite, all of it on the event loop).
  // Chunks still let other statements in between.
  for (let start = 0; start < entries.length; start += INSERT_CHUNK) {
    const chunk = entries.slice(start, start + INSERT_CHUNK);
    const ids = sqlArray(
      chunk.map(() => uuidv7()),
      'uuid',
    );
    const songIds = sqlArray(
      chunk.map((e) => e.songId),
      'uuid',
    );
    const positions = sqlArray(
      chunk.map((e) => e.position),
      'int',
    );
    await tx.execute(sql`insert into playlist_tracks (id, playlist_id, song_id, position, added_at)
      select e.id, ${playlistId}::uuid, e.song_id, e.position, ${addedAt.toISOString()}::timestamptz
      from unnest(${ids}, ${songIds}, ${positions}) as e(id, song_id, position)`);
  }
}

export async function deleteEntries(tx: Executor, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await tx.delete(playlistTracks).where(inArray(playlistTracks.id, ids));
}

/**
 * Gives entries new positions. The unique (playlist, position) index is checked row by row, so
 * a shift would collide with itself: the moved rows first park at distinct negative positions,
 * then take their final ones, none of which any unmoved row holds.
 */
export async function moveEntries(tx: Executor, moves: { id: string; position: number }[]): Promise<void> {
  if (!moves.length) return;
  const ids = moves.map((m) => m.id);
  const positions = moves.map((m) => m.position);
  await tx.execute(sql`update ${playlistTracks} set position = -1 - m.position
    from unnest(${sqlArray(ids, 'uuid')}, ${sqlArray(positions, 'int')}) as m(id, position)
    where ${playlistTracks.id} = m.id`);
  await tx.execute(sql`update ${playlistTracks} set position = -1 - position
    where ${inArray(playlistTracks.id, ids)}`);
}

export async function touchPlaylist(tx: Executor, id: string): Promise<void> {
  await tx.update(playlists).set({ updatedAt: new Date() }).where(eq(playlists.id, id));
}

/** Follows once; the follower counter moves with the row (trigger). */
export async function insertFollow(db: Executor, userId: string, playlistId: string): Promise<void> {
  await db.insert(playlistFollows).values({ userId, playlistId }).onConflictDoNothing();
}

export async function deleteFollow(db: Executor, userId: string, playlistId: string): Promise<void> {
  await db
    .delete(playlistFollows)
    .where(and(eq(playlistFollows.userId, userId), eq(playlistFollows.playlistId, playlistId)));
}

/** Playlists a user owns or follows: what deleting the account changes. */
export async function playlistIdsTouchedBy(tx: Executor, userId: string): Promise<string[]> {
  const [owned, followed] = await Promise.all([
    tx.select({ id: playlists.id }).from(playlists).where(eq(playlists.ownerId, userId)),
    tx
      .select({ id: playlistFollows.playlistId })
      .from(playlistFollows)
      .where(eq(playlistFollows.userId, userId)),
  ]);
  return [...owned, ...followed].map((row) => row.id);
}

export interface WantedSong {
  /** The import entry this candidate belongs to. */
  entry: number;
  /** Preference among one entry's candidates, lowest first. */
  rank: number;
  artist: string;
  title: string;
  album: string | null;
}

/**
 * For each entry, the listed song best matching one of its candidates by artist and title:
 * the best-ranked candidate, then one on the named album, then the most played. Each candidate
 * looks its songs up through `songs_folded_match_idx` (a lateral join, so the planner cannot
 * fold the whole catalog for a merge join instead: folding is far dearer than it estimates),
 * so a batch costs its candidates, whatever the size of the catalog.
 */
export async function matchSongs(db: Executor, wanted: WantedSong[]): Promise<Map<number, string>> {
  if (!wanted.length) return new Map();
  const column = (key: keyof WantedSong, type: SqlArrayType) =>
    sqlArray(
      wanted.map((w) => w[key]),
      type,
    );
  const rows = await rowsOf<{ entry: number; song_id: string }>(
    db,
    sql`select distinct on (w.entry) w.entry, m.id as song_id
      from (
        select entry, rank, ${foldedName(sql`artist`)} as artist, ${foldedName(sql`title`)} as title,
          ${foldedName(sql`album`)} as album
        from unnest(${column('entry', 'int')}, ${column('rank', 'int')}, ${column('artist', 'text')},
          ${column('title', 'text')}, ${column('album', 'text')}) as u(entry, rank, artist, title, album)
      ) w
      cross join lateral (
        select ${songs.id} from ${songs}
        inner join ${albums} on ${albums.id} = ${songs.albumId}
        where ${foldedName(songs.title)} = w.title and ${foldedName(songs.artistName)} = w.artist and ${songListed}
        order by (w.album is not null and ${foldedName(albums.title)} = w.album) desc,
          ${songs.playCount} desc, ${songs.id} asc
        limit 1
      ) m
      order by w.entry, w.rank`,
  );
  return new Map(rows.map((r) => [Number(r.entry), r.song_id]));
}
