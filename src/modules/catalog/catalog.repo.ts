import { and, asc, count, eq, getTableColumns, inArray, max, ne, not, or, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { type Executor, rowsOf, sqlArray } from '../../platform/db.js';
import type { Image } from '../../platform/http.js';
import { type AlbumType, albums, artists, type SongAudio, songs, sortKey } from './catalog.tables.js';

/**
 * Which rows a query may return. `listed` is what users and anonymous callers see; `own` adds
 * one artist's content for that artist's accounts; `all` and `hidden` are admin views.
 */
export type Scope =
  | { kind: 'listed' }
  | { kind: 'own'; artistId: string }
  | { kind: 'all' }
  | { kind: 'hidden' };

export interface Sort<F extends string> {
  field: F;
  descending: boolean;
}

/** With `q`, a missing sort orders by relevance: exact, then prefix, then closest matches. */
export type SortOrRelevance<F extends string> = Sort<F> | 'relevance';

interface PageWindow {
  limit: number;
  offset: number;
}

const { searchText: _a, searchVector: _b, playCount: _c, ...albumColumns } = getTableColumns(albums);
const { searchText: _d, searchVector: _e, ...songColumns } = getTableColumns(songs);
const { searchVector: _f, ...artistColumns } = getTableColumns(artists);
const songWithAlbumColumns = { ...songColumns, albumTitle: albums.title };

export type AlbumRow = { [K in keyof typeof albumColumns]: (typeof albums.$inferSelect)[K] };
export type SongRow = { [K in keyof typeof songColumns]: (typeof songs.$inferSelect)[K] } & {
  albumTitle: string;
};
export type ArtistRow = { [K in keyof typeof artistColumns]: (typeof artists.$inferSelect)[K] };

function scoped(scope: Scope, listed: SQL, owner: AnyPgColumn): SQL | undefined {
  switch (scope.kind) {
    case 'listed':
      return listed;
    case 'own':
      return sql`(${listed} or ${owner} = ${scope.artistId})`;
    case 'all':
      return undefined;
    case 'hidden':
      return not(listed);
  }
}

export const albumInScope = (scope: Scope) => scoped(scope, sql`${albums.listed}`, albums.artistId);
export const songInScope = (scope: Scope) => scoped(scope, sql`${songs.listed}`, songs.artistId);
export const artistInScope = (scope: Scope) => scoped(scope, sql`${artists.isVisible}`, artists.id);

/**
 * `songInScope` for statements that serve several callers at once: the caller's scope comes per
 * row as SQL expressions (`seesAll`: boolean, `ownArtistId`: uuid or null), see `songScopeOf`.
 */
export const songInRowScope = (seesAll: SQL, ownArtistId: SQL): SQL =>
  sql`(${songs.listed} or ${seesAll} or ${songs.artistId} = ${ownArtistId})`;

/** Words of a search that count; later ones are ignored (names rarely have more). */
export const MAX_QUERY_WORDS = 8;

/**
 * Words of `q` as a prefix full-text query (`radio:* & head:*`); null when it has no words.
 * Each prefix reads every index entry it starts, so the work is bounded: at most
 * MAX_QUERY_WORDS words, and a one-letter word among others is matched whole (`a`, not every
 * word starting with a), since its prefix is a large part of the whole index.
 */
function prefixTsQuery(q: string): string | null {
  const words = q.match(/[\p{L}\p{N}]+/gu)?.slice(0, MAX_QUERY_WORDS);
  if (!words) return null;
  return words.map((w) => (w.length > 1 || words.length === 1 ? `${w}:*` : w)).join(' & ');
}

/**
 * Typo-tolerant match: trigram word similarity (`Radiohed` finds `Radiohead`) or full-text
 * prefix match (words in any order). Both are answered by GIN indexes.
 */
function matchesText(q: string, text: AnyPgColumn, vector: AnyPgColumn): SQL {
  const fuzzy = sql`${q} <% ${text}`;
  const words = prefixTsQuery(q);
  return words ? sql`(${fuzzy} or ${vector} @@ to_tsquery('simple', ${words}))` : fuzzy;
}

/** Relevance order for a lower-cased `q`: exact names first, then prefixes, then similarity. */
function relevanceOrder(q: string, names: AnyPgColumn[], text: AnyPgColumn, id: AnyPgColumn): SQL[] {
  const exact = or(...names.map((n) => sql`lower(${n}) = ${q}`));
  const prefix = or(...names.map((n) => sql`starts_with(lower(${n}), ${q})`));
  return [
    sql`case when ${exact} then 0 when ${prefix} then 1 else 2 end`,
    sql`word_similarity(${q}, ${text}) desc`,
    asc(id),
  ];
}

function sortOrder(expression: SQL | AnyPgColumn, descending: boolean, id: AnyPgColumn): SQL[] {
  return [descending ? sql`${expression} desc` : sql`${expression} asc`, asc(id)];
}

const lowerIn = (column: AnyPgColumn, values: string[]) => inArray(sql`lower(${column})`, values);

// ---------------------------------------------------------------------------------------------
// Artists

export const ARTIST_SORTS = ['name', 'createdAt', 'albumCount', 'followerCount'] as const;
export type ArtistSortField = (typeof ARTIST_SORTS)[number];

const artistSortColumns: Record<ArtistSortField, SQL | AnyPgColumn> = {
  name: sortKey(artists.name),
  createdAt: artists.createdAt,
  albumCount: artists.albumCount,
  followerCount: artists.followerCount,
};

export interface ArtistFilter {
  scope: Scope;
  /** Lower-cased. */
  q?: string;
  /** Lower-cased. */
  genres?: string[];
}

export async function listArtists(
  db: Executor,
  filter: ArtistFilter & PageWindow & { sort: SortOrRelevance<ArtistSortField> },
): Promise<{ rows: ArtistRow[]; total: number }> {
  const where = and(
    artistInScope(filter.scope),
    filter.q ? matchesText(filter.q, artists.name, artists.searchVector) : undefined,
    filter.genres?.length
      ? sql`catalog_lower_genres(${artists.genres}) && array[${sql.join(
          filter.genres.map((g) => sql`${g}`),
          sql`, `,
        )}]::text[]`
      : undefined,
  );
  const order =
    filter.sort === 'relevance'
      ? relevanceOrder(filter.q ?? '', [artists.name], artists.name, artists.id)
      : sortOrder(artistSortColumns[filter.sort.field], filter.sort.descending, artists.id);
  const [rows, [totals]] = await Promise.all([
    db
      .select(artistColumns)
      .from(artists)
      .where(where)
      .orderBy(...order)
      .limit(filter.limit)
      .offset(filter.offset),
    db.select({ total: count() }).from(artists).where(where),
  ]);
  return { rows, total: totals?.total ?? 0 };
}

export async function findArtist(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<ArtistRow | undefined> {
  const query = db.select(artistColumns).from(artists).where(eq(artists.id, id));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row;
}

/** The oldest artist in `scope` whose name matches case-insensitively. */
export async function findArtistByName(
  db: Executor,
  name: string,
  scope: Scope,
): Promise<ArtistRow | undefined> {
  const [row] = await db
    .select(artistColumns)
    .from(artists)
    .where(and(sql`lower(${artists.name}) = lower(${name})`, artistInScope(scope)))
    .orderBy(asc(artists.createdAt), asc(artists.id))
    .limit(1);
  return row;
}

/**
 * Serialises "link the artist of this name or create it" per name, so two concurrent album
 * creations with one new artist name cannot create the artist twice.
 */
export async function lockArtistName(tx: Executor, name: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.artist-name:' || lower(${name})))`);
}

export async function insertArtist(
  db: Executor,
  values: { name: string; bio?: string | null; imageUrl?: string | null; genres?: string[] },
): Promise<ArtistRow> {
  const [row] = await db.insert(artists).values(values).returning(artistColumns);
  return row!;
}

export async function updateArtist(
  db: Executor,
  id: string,
  values: Partial<Pick<ArtistRow, 'name' | 'bio' | 'imageUrl' | 'genres' | 'isVisible'>>,
): Promise<ArtistRow> {
  const [row] = await db
    .update(artists)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(artists.id, id))
    .returning(artistColumns);
  return row!;
}

export async function artistExists(db: Executor, id: string): Promise<boolean> {
  const rows = await db.select({ id: artists.id }).from(artists).where(eq(artists.id, id)).limit(1);
  return rows.length > 0;
}

export async function deleteArtist(db: Executor, id: string): Promise<void> {
  await db.delete(artists).where(eq(artists.id, id));
}

export async function artistHasAlbums(db: Executor, artistId: string): Promise<boolean> {
  const rows = await db.select({ id: albums.id }).from(albums).where(eq(albums.artistId, artistId)).limit(1);
  return rows.length > 0;
}

/** Whether the artist is a song's own artist (a track on someone else's album, say a compilation). */
export async function artistHasSongs(db: Executor, artistId: string): Promise<boolean> {
  const rows = await db.select({ id: songs.id }).from(songs).where(eq(songs.artistId, artistId)).limit(1);
  return rows.length > 0;
}

/** Recounts the albums everyone may see; the caller holds the artist's row lock. */
export async function refreshArtistAlbumCount(tx: Executor, artistId: string): Promise<void> {
  await tx
    .update(artists)
    .set({
      albumCount: sql`(select count(*)::int from ${albums} where ${albums.artistId} = ${artistId}
        and ${albums.isPublic} and ${albums.isVisible})`,
    })
    .where(eq(artists.id, artistId));
}

/** Copies a new artist name onto their albums and songs; returns the albums touched. */
export async function renameArtistContent(tx: Executor, artistId: string, name: string): Promise<string[]> {
  const touched = await tx
    .update(albums)
    .set({ artistName: name })
    .where(eq(albums.artistId, artistId))
    .returning({ id: albums.id });
  await tx.update(songs).set({ artistName: name }).where(eq(songs.artistId, artistId));
  return touched.map((r) => r.id);
}

/**
 * Re-derives `listed` of an artist's albums and their songs after the artist's visibility
 * changed (a song follows its album, whoever its own artist is).
 */
export async function relistArtistContent(
  tx: Executor,
  artistId: string,
  artistVisible: boolean,
): Promise<string[]> {
  const touched = await tx
    .update(albums)
    .set({ listed: sql`${albums.isPublic} and ${albums.isVisible} and ${artistVisible}` })
    .where(eq(albums.artistId, artistId))
    .returning({ id: albums.id });
  await tx.execute(sql`update ${songs} set listed = ${songListedWith(sql`a.listed`)} from ${albums} a
    where a.id = ${songs.albumId} and a.artist_id = ${artistId}`);
  return touched.map((r) => r.id);
}

/** Artist follower counter; the following module calls it inside its own transaction. */
export async function incrementArtistFollowers(tx: Executor, artistId: string, delta: number): Promise<void> {
  await tx
    .update(artists)
    .set({ followerCount: sql`greatest(0, ${artists.followerCount} + ${delta})` })
    .where(eq(artists.id, artistId));
}

// ---------------------------------------------------------------------------------------------
// Albums

export const ALBUM_SORTS = [
  'releaseYear',
  'title',
  'createdAt',
  'popularity',
  'songCount',
  'followerCount',
] as const;
export type AlbumSortField = (typeof ALBUM_SORTS)[number];

const albumSortColumns: Record<AlbumSortField, SQL | AnyPgColumn> = {
  releaseYear: albums.releaseYear,
  title: sortKey(albums.title),
  createdAt: albums.createdAt,
  popularity: albums.popularity,
  songCount: albums.songCount,
  followerCount: albums.followerCount,
};

export interface AlbumFilter {
  scope: Scope;
  /** Lower-cased. */
  genres?: string[];
  artistId?: string;
  /** Matches the whole artist name, case-insensitively. */
  artistName?: string;
  year?: number;
  yearFrom?: number;
  yearTo?: number;
  types?: AlbumType[];
  /** Lower-cased. */
  q?: string;
}

/** Ids of the artists named `name` (whole name, any case), through the artists' name index. */
const artistsNamed = (name: string) =>
  sql`(select ${artists.id} from ${artists} where lower(${artists.name}) = lower(${name}))`;

/** Release year conditions on `column` (inclusive bounds). */
const yearConditions = (
  column: AnyPgColumn,
  filter: { year?: number; yearFrom?: number; yearTo?: number },
) => [
  filter.year !== undefined ? eq(column, filter.year) : undefined,
  filter.yearFrom !== undefined ? sql`${column} >= ${filter.yearFrom}` : undefined,
  filter.yearTo !== undefined ? sql`${column} <= ${filter.yearTo}` : undefined,
];

function albumConditions(filter: AlbumFilter): SQL | undefined {
  return and(
    albumInScope(filter.scope),
    filter.genres?.length ? lowerIn(albums.genre, filter.genres) : undefined,
    filter.artistId ? eq(albums.artistId, filter.artistId) : undefined,
    // Through the artists' name index, then the albums' artist index: no scan of albums.
    filter.artistName ? inArray(albums.artistId, artistsNamed(filter.artistName)) : undefined,
    ...yearConditions(albums.releaseYear, filter),
    filter.types?.length ? inArray(albums.albumType, filter.types) : undefined,
    filter.q ? matchesText(filter.q, albums.searchText, albums.searchVector) : undefined,
  );
}

export async function listAlbums(
  db: Executor,
  filter: AlbumFilter & PageWindow & { sort: SortOrRelevance<AlbumSortField> },
): Promise<{ rows: AlbumRow[]; total: number }> {
  const where = albumConditions(filter);
  const order =
    filter.sort === 'relevance'
      ? relevanceOrder(filter.q ?? '', [albums.title, albums.artistName], albums.searchText, albums.id)
      : sortOrder(albumSortColumns[filter.sort.field], filter.sort.descending, albums.id);
  const [rows, [totals]] = await Promise.all([
    db
      .select(albumColumns)
      .from(albums)
      .where(where)
      .orderBy(...order)
      .limit(filter.limit)
      .offset(filter.offset),
    db.select({ total: count() }).from(albums).where(where),
  ]);
  return { rows, total: totals?.total ?? 0 };
}

export async function findAlbum(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<AlbumRow | undefined> {
  const query = db.select(albumColumns).from(albums).where(eq(albums.id, id));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row;
}

/** Albums among `ids` in `scope`, in no particular order. */
export function findAlbumsByIds(db: Executor, ids: string[], scope: Scope): Promise<AlbumRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .select(albumColumns)
    .from(albums)
    .where(and(inArray(albums.id, ids), albumInScope(scope)));
}

export type AlbumValues = Pick<
  AlbumRow,
  | 'title'
  | 'genre'
  | 'releaseYear'
  | 'releaseDate'
  | 'albumType'
  | 'coverUrl'
  | 'label'
  | 'isPublic'
  | 'isVisible'
  | 'listed'
>;

export async function insertAlbum(
  db: Executor,
  values: AlbumValues & { artistId: string; artistName: string },
): Promise<AlbumRow> {
  const [row] = await db.insert(albums).values(values).returning(albumColumns);
  return row!;
}

export async function updateAlbum(db: Executor, id: string, values: Partial<AlbumValues>): Promise<AlbumRow> {
  const [row] = await db
    .update(albums)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(albums.id, id))
    .returning(albumColumns);
  return row!;
}

export async function deleteAlbum(db: Executor, id: string): Promise<void> {
  await db.delete(albums).where(eq(albums.id, id));
}

/** A song is listed when its own switches are on and its album is listed (`albumListed`). */
const songListedWith = (albumListed: SQL | boolean) =>
  sql`(${albumListed} and ${songs.isPublic} and ${songs.isVisible})`;

/** Whether a song with these switches on an album with this `listed` is listed. */
export const songListed = (albumListed: boolean, song: { isPublic: boolean; isVisible: boolean }) =>
  albumListed && song.isPublic && song.isVisible;

/** Copies what songs derive from their album (`listed`, release year) after the album changed. */
export async function copyAlbumToSongs(
  tx: Executor,
  albumId: string,
  album: { listed: boolean; releaseYear: number },
): Promise<void> {
  await tx
    .update(songs)
    .set({ listed: songListedWith(album.listed), releaseYear: album.releaseYear })
    .where(eq(songs.albumId, albumId));
}

/** The songs an album's counters count: public and visible themselves. */
const countedSongOf = (albumId: string) =>
  sql`${songs.albumId} = ${albumId} and ${songs.isPublic} and ${songs.isVisible}`;

/** Recounts songs and total duration; the caller holds the album's row lock. */
export async function refreshAlbumSongStats(tx: Executor, albumId: string): Promise<AlbumRow> {
  const [row] = await tx
    .update(albums)
    .set({
      songCount: sql`(select count(*)::int from ${songs} where ${countedSongOf(albumId)})`,
      durationMs: sql`(select coalesce(sum(${songs.durationMs}), 0)::bigint from ${songs}
        where ${countedSongOf(albumId)})`,
      updatedAt: new Date(),
    })
    .where(eq(albums.id, albumId))
    .returning(albumColumns);
  return row!;
}

/**
 * 0..100 from followers and recent plays (the last 30 days), logarithmic so a few early fans
 * move it and a hit does not saturate it at once; kept as a column so sorting by it is an
 * index scan.
 */
const popularityOf = (followers: SQL, recentPlays: SQL) =>
  sql`least(100, floor(12 * ln(1 + greatest(0, ${followers}) + greatest(0, ${recentPlays}) / 10.0)))::int`;

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

// ---------------------------------------------------------------------------------------------
// Songs

export const SONG_SORTS = ['title', 'createdAt', 'playCount', 'durationMs'] as const;
export type SongSortField = (typeof SONG_SORTS)[number];

const songSortColumns: Record<SongSortField, SQL | AnyPgColumn> = {
  title: sortKey(songs.title),
  createdAt: songs.createdAt,
  playCount: songs.playCount,
  durationMs: songs.durationMs,
};

export interface SongFilter {
  scope: Scope;
  albumId?: string;
  artistId?: string;
  /** Matches the whole artist name, case-insensitively. */
  artistName?: string;
  /** The album's release year (copied onto songs). */
  year?: number;
  yearFrom?: number;
  yearTo?: number;
  /** Lower-cased. */
  genres?: string[];
  /** Lower-cased. */
  q?: string;
}

export async function listSongs(
  db: Executor,
  filter: SongFilter & PageWindow & { sort: SortOrRelevance<SongSortField> },
): Promise<{ rows: SongRow[]; total: number }> {
  const where = and(
    songInScope(filter.scope),
    filter.albumId ? eq(songs.albumId, filter.albumId) : undefined,
    filter.artistId ? eq(songs.artistId, filter.artistId) : undefined,
    filter.artistName ? inArray(songs.artistId, artistsNamed(filter.artistName)) : undefined,
    ...yearConditions(songs.releaseYear, filter),
    filter.genres?.length ? lowerIn(songs.genre, filter.genres) : undefined,
    filter.q ? matchesText(filter.q, songs.searchText, songs.searchVector) : undefined,
  );
  const order =
    filter.sort === 'relevance'
      ? relevanceOrder(filter.q ?? '', [songs.title, songs.artistName], songs.searchText, songs.id)
      : sortOrder(songSortColumns[filter.sort.field], filter.sort.descending, songs.id);
  const [page, [totals]] = await Promise.all([
    db
      .select(songColumns)
      .from(songs)
      .where(where)
      .orderBy(...order)
      .limit(filter.limit)
      .offset(filter.offset),
    db.select({ total: count() }).from(songs).where(where),
  ]);
  return { rows: await withAlbumTitles(db, page), total: totals?.total ?? 0 };
}

/**
 * Adds album titles to a page of songs by primary key. Joining before the page is cut would
 * make PostgreSQL join every matching song (a hash join over all albums) only to keep 20.
 */
async function withAlbumTitles(db: Executor, page: Omit<SongRow, 'albumTitle'>[]): Promise<SongRow[]> {
  if (!page.length) return [];
  const titles = await db
    .select({ id: albums.id, title: albums.title })
    .from(albums)
    .where(inArray(albums.id, [...new Set(page.map((s) => s.albumId))]));
  const byId = new Map(titles.map((a) => [a.id, a.title]));
  return page.map((song) => ({ ...song, albumTitle: byId.get(song.albumId) ?? '' }));
}

/** Every song of an album in track order (albums are bounded, see MAX_SONGS_PER_ALBUM). */
export function listAlbumSongs(db: Executor, albumId: string): Promise<SongRow[]> {
  return db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(eq(songs.albumId, albumId))
    .orderBy(asc(songs.trackNumber), asc(songs.id));
}

export async function findSong(db: Executor, id: string): Promise<SongRow | undefined> {
  const [row] = await db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(eq(songs.id, id));
  return row;
}

/** Songs among `ids` in `scope`, in no particular order. */
export function findSongsByIds(db: Executor, ids: string[], scope: Scope): Promise<SongRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(and(inArray(songs.id, ids), songInScope(scope)));
}

export async function albumSongCount(db: Executor, albumId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(songs).where(eq(songs.albumId, albumId));
  return row?.n ?? 0;
}

export async function nextTrackNumber(db: Executor, albumId: string): Promise<number> {
  const [row] = await db
    .select({ last: max(songs.trackNumber) })
    .from(songs)
    .where(eq(songs.albumId, albumId));
  return (row?.last ?? 0) + 1;
}

export async function trackNumberTaken(
  db: Executor,
  albumId: string,
  trackNumber: number,
  exceptSongId?: string,
): Promise<boolean> {
  const rows = await db
    .select({ id: songs.id })
    .from(songs)
    .where(
      and(
        eq(songs.albumId, albumId),
        eq(songs.trackNumber, trackNumber),
        exceptSongId ? ne(songs.id, exceptSongId) : undefined,
      ),
    )
    .limit(1);
  return rows.length > 0;
}

export type SongValues = Pick<
  SongRow,
  'title' | 'durationMs' | 'trackNumber' | 'genre' | 'explicit' | 'isPublic' | 'isVisible' | 'listed'
>;

export async function insertSong(
  db: Executor,
  values: SongValues & { albumId: string; artistId: string; artistName: string; releaseYear: number },
): Promise<string> {
  const [row] = await db.insert(songs).values(values).returning({ id: songs.id });
  return row!.id;
}

export async function updateSong(db: Executor, id: string, values: Partial<SongValues>): Promise<void> {
  await db
    .update(songs)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(songs.id, id));
}

export async function deleteSong(db: Executor, id: string): Promise<void> {
  await db.delete(songs).where(eq(songs.id, id));
}

/** Whether the catalog has anything at all (the demo catalog loads only into an empty one). */
export async function catalogIsEmpty(db: Executor): Promise<boolean> {
  const rows = await db.select({ id: artists.id }).from(artists).limit(1);
  return rows.length === 0;
}

/** Rows per INSERT: well under PostgreSQL's 65,535 bind parameters, few round trips. */
const BULK_ROWS = 500;

/** Loads prepared rows, counters included, with multi-row inserts (the demo catalog, benches). */
export async function bulkInsertCatalog(
  tx: Executor,
  rows: {
    artists: (typeof artists.$inferInsert)[];
    albums: (typeof albums.$inferInsert)[];
    songs: (typeof songs.$inferInsert)[];
  },
): Promise<void> {
  for (let i = 0; i < rows.artists.length; i += BULK_ROWS) {
    await tx.insert(artists).values(rows.artists.slice(i, i + BULK_ROWS));
  }
  for (let i = 0; i < rows.albums.length; i += BULK_ROWS) {
    await tx.insert(albums).values(rows.albums.slice(i, i + BULK_ROWS));
  }
  for (let i = 0; i < rows.songs.length; i += BULK_ROWS) {
    await tx.insert(songs).values(rows.songs.slice(i, i + BULK_ROWS));
  }
}

/** Serialises demo loading across nodes sharing one database. */
export async function lockDemoLoad(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.demo-load'))`);
}

// ---------------------------------------------------------------------------------------------
// Written by the media module (inside its transactions)

/**
 * Sets a song's `audio` object and, when the file was measured, its duration (and so its
 * album's total). Returns the album id for cache invalidation, or undefined for a gone song.
 */
export async function writeSongAudio(
  tx: Executor,
  songId: string,
  audio: SongAudio,
  durationMs?: number,
): Promise<string | undefined> {
  const [row] = await tx
    .update(songs)
    .set({ audio, ...(durationMs ? { durationMs } : {}), updatedAt: new Date() })
    .where(eq(songs.id, songId))
    .returning({ albumId: songs.albumId });
  if (row && durationMs) await refreshAlbumSongStats(tx, row.albumId);
  return row?.albumId;
}

export interface ImageSet {
  images: Image[];
  hash: string | null;
}

/**
 * An album's cover. An `embedded` one (a song file's picture) is only written where the album
 * has no cover; an upload replaces whatever is there. Returns whether the album changed.
 */
export async function writeAlbumImages(tx: Executor, albumId: string, set: ImageSet, embedded = false) {
  const rows = await tx
    .update(albums)
    .set({
      images: set.images,
      imageHash: set.hash,
      coverUrl: set.images[0]?.url ?? null,
      updatedAt: new Date(),
    })
    .where(and(eq(albums.id, albumId), embedded ? sql`jsonb_array_length(${albums.images}) = 0` : undefined))
    .returning({ id: albums.id });
  return rows.length > 0;
}

export async function writeArtistImages(tx: Executor, artistId: string, set: ImageSet) {
  await tx
    .update(artists)
    .set({
      images: set.images,
      imageHash: set.hash,
      imageUrl: set.images[0]?.url ?? null,
      updatedAt: new Date(),
    })
    .where(eq(artists.id, artistId));
}

/** Image hashes among `hashes` that an album or artist still shows. */
export async function imageHashesInUse(db: Executor, hashes: string[]): Promise<Set<string>> {
  if (!hashes.length) return new Set();
  const rows = await rowsOf<{ hash: string }>(
    db,
    sql`select image_hash as hash from ${albums} where image_hash = any(${sqlArray(hashes, 'text')})
      union select image_hash from ${artists} where image_hash = any(${sqlArray(hashes, 'text')})`,
  );
  return new Set(rows.map((r) => r.hash));
}
