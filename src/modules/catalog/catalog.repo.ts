import {
  and,
  asc,
  Column,
  count,
  eq,
  getTableColumns,
  getTableName,
  inArray,
  is,
  not,
  type SQL,
  sql,
} from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import { builtOnce, carriedTotal, type Executor, pageWithCarriedTotal } from '../../platform/db.js';
import { listedAlbum, listedSong } from './catalog.listed.js';
import { matchesText, relevanceOrder, searchQuery } from './catalog.search.js';
import { type AlbumType, albums, artists, songs, sortKey } from './catalog.tables.js';
import { SEARCH_CANDIDATES } from './search-limits.js';

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

export { albumColumns, artistColumns, songColumns, songWithAlbumColumns };

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

export const albumInScope = (scope: Scope) => scoped(scope, listedAlbum(), albums.artistId);
export const songInScope = (scope: Scope) => scoped(scope, listedSong(), songs.artistId);
export const artistInScope = (scope: Scope) => scoped(scope, sql`${artists.isVisible}`, artists.id);

type AlbumRanking = { searchText: typeof albums.searchText };
type SongRanking = { searchText: typeof songs.searchText };

/** The three tables as searched by relevance (see `RankedSource`). */
const artistSearch = {
  table: artists,
  columns: artistColumns,
  ranking: {},
  order: (q: unknown, c: typeof artistColumns) => relevanceOrder(q, [c.name], c.name, c.id),
  listed: artistInScope({ kind: 'listed' }) as SQL,
  vector: artists.searchVector,
};

/** Albums or songs, ranked on the title and the artist's name over their `search_text`. */
function titledSearch<
  T extends typeof albums | typeof songs,
  C extends { id: AnyPgColumn; title: AnyPgColumn; artistName: AnyPgColumn },
>(table: T, columns: C, listed: SQL | undefined) {
  const searchText = table.searchText as T['searchText'];
  return {
    table,
    columns,
    ranking: { searchText },
    order: (q: unknown, c: C & { searchText: T['searchText'] }) =>
      relevanceOrder(q, [c.title, c.artistName], c.searchText, c.id),
    listed: listed as SQL,
    vector: table.searchVector,
  };
}
const albumSearch = titledSearch(albums, albumColumns, albumInScope({ kind: 'listed' }));
const songSearch = {
  ...titledSearch(songs, songColumns, songInScope({ kind: 'listed' })),
  // The album's title by primary key, for the page's rows only.
  also: (c: typeof songColumns) => ({
    albumTitle: sql<string>`(select ${albums.title} from ${albums} where ${albums.id} = ${c.albumId})`,
  }),
};

/**
 * `songInScope` for statements that serve several callers at once: the caller's scope comes per
 * row as SQL expressions (`seesAll`: boolean, `ownArtistId`: uuid or null), see `songScopeOf`.
 */
export const songInRowScope = (seesAll: SQL, ownArtistId: SQL): SQL =>
  sql`(${listedSong()} or ${seesAll} or ${songs.artistId} = ${ownArtistId})`;

export { queryWords, searchQuery } from './catalog.search.js';
export { MAX_QUERY_WORDS } from './search-limits.js';

function sortOrder(expression: SQL | AnyPgColumn, descending: boolean, id: AnyPgColumn): SQL[] {
  return [descending ? sql`${expression} desc` : sql`${expression} asc`, asc(id)];
}

const lowerIn = (column: AnyPgColumn, values: string[]) => inArray(sql`lower(${column})`, values);

/** The matcher of `filter.q`: the one the caller already looked up (`search`), else a new lookup. */
async function matcherOf(db: Executor, filter: { q?: string; search?: string | null }) {
  if (!filter.q) return undefined;
  return filter.search !== undefined ? filter.search : searchQuery(db, filter.q);
}

/** A filter's value when it filters anything: an empty string or list does not. */
export const given = <T>(value: T): T | undefined =>
  value === '' || (Array.isArray(value) && value.length === 0) ? undefined : value;

/**
 * The matcher of a plain search, else undefined: ranked by relevance, what users see (the listed
 * scope), with words to match and none of the list's `others` filters set (see `plainSearchPage`).
 */
function plainMatcher(
  filter: { sort: unknown; scope: Scope },
  search: string | null | undefined,
  others: unknown[],
): string | undefined {
  const plain = filter.sort === 'relevance' && filter.scope.kind === 'listed';
  return plain && search && others.every((value) => given(value) === undefined) ? search : undefined;
}

/** A page and its total, counted at the same time. */
async function pageAndTotal<R>(
  page: Promise<R[]>,
  total: () => Promise<{ total: number }[]>,
): Promise<{ rows: R[]; total: number }> {
  const [rows, [totals]] = await Promise.all([page, total()]);
  return { rows, total: totals?.total ?? 0 };
}

/**
 * A table searched by relevance: the page's columns, those its ranking reads besides, its
 * relevance order for a lower-cased `q` (which may be a placeholder), and for a plain search its
 * listed condition and full-text column.
 */
interface RankedSource<C extends Record<string, AnyPgColumn>, E extends Record<string, AnyPgColumn>> {
  table: PgTable;
  columns: C;
  ranking: E;
  order: (q: unknown, candidate: C & E) => SQL[];
  listed: SQL;
  vector: AnyPgColumn;
  /** Fields of a page's rows looked up elsewhere (PostgreSQL reads them after the cut). */
  also?: (candidate: C & E) => Record<string, SQL>;
}

/**
 * The statements of a relevance page: the first SEARCH_CANDIDATES rows of `matching` (as the
 * full-text index yields them), ranked by the source's order, cut to the window; and their count
 * alone. The candidates are a subquery carrying the page's columns under the table's own name,
 * so each is read once: selecting their ids and then looking every one up again by primary key
 * cost 500 index probes per search (4 of a song search's 19 ms at size L). Each row carries the
 * count of candidates (`count(*) over ()`, at most SEARCH_CANDIDATES), so one statement answers;
 * only a page past the end has no row to carry it and counts apart (an empty first page has
 * nothing to count).
 */
function rankedStatements<C extends Record<string, AnyPgColumn>, E extends Record<string, AnyPgColumn>>(
  db: Executor,
  from: RankedSource<C, E>,
  matching: SQL | undefined,
  q: unknown,
  window: { limit: unknown; offset: unknown },
) {
  const subquery = db
    .select({ ...from.columns, ...from.ranking })
    .from(from.table)
    .where(matching)
    .limit(SEARCH_CANDIDATES)
    // Typed as a table: drizzle cannot follow a generic selection through a subquery.
    .as(getTableName(from.table)) as unknown as PgTable;
  const candidate = subquery as unknown as C & E;
  const columns = Object.fromEntries(Object.keys(from.columns).map((key) => [key, candidate[key]])) as C;
  return {
    page: db
      .select({ ...columns, ...from.also?.(candidate), total: carriedTotal() })
      .from(subquery)
      .orderBy(...from.order(q, candidate))
      .limit(window.limit as number)
      .offset(window.offset as number),
    total: db.select({ total: count() }).from(subquery),
  };
}

/** A relevance page built for this request's conditions (filters, scopes other than listed). */
async function rankedPage<R, C extends Record<string, AnyPgColumn>, E extends Record<string, AnyPgColumn>>(
  db: Executor,
  from: RankedSource<C, E>,
  matching: SQL | undefined,
  q: string,
  window: PageWindow,
): Promise<{ rows: R[]; total: number }> {
  const statements = rankedStatements(db, from, matching, q, window);
  return pageWithCarriedTotal<R>(statements.page, () => statements.total, window.offset);
}

/** A placeholder of the statements `plainSearchPage` keeps. */
const searchSlot = (name: 'search' | 'q' | keyof PageWindow) => sql.placeholder(name);

function plainSearchStatements<C extends Record<string, AnyPgColumn>, E extends Record<string, AnyPgColumn>>(
  db: Executor,
  from: RankedSource<C, E>,
) {
  const statements = rankedStatements(
    db,
    from,
    and(from.listed, matchesText('', from.vector, searchSlot('search'))),
    searchSlot('q'),
    { limit: searchSlot('limit'), offset: searchSlot('offset') },
  );
  // An empty name: an unnamed statement, planned for each run's words (a common word's matches
  // are read in table order, a rare word's through the index).
  return { page: statements.page.prepare(''), total: statements.total.prepare('') };
}

/** Built statements of plain searches, per executor and table (see `plainSearchPage`). */
const plainSearchCache = new WeakMap<Executor, Map<string, ReturnType<typeof plainSearchStatements>>>();

/**
 * A plain search's page: what users see, ranked, with no filter but `q` (`/search`, and `q`
 * alone on a list), through statements built once per table.
 */
async function plainSearchPage<
  R,
  C extends Record<string, AnyPgColumn>,
  E extends Record<string, AnyPgColumn>,
>(
  db: Executor,
  from: RankedSource<C, E>,
  search: string,
  q: string,
  window: PageWindow,
): Promise<{ rows: R[]; total: number }> {
  const built = builtOnce(plainSearchCache, db, getTableName(from.table), () =>
    plainSearchStatements(db, from),
  );
  const values = { search, q, limit: window.limit, offset: window.offset };
  return pageWithCarriedTotal<R>(
    built.page.execute(values),
    () => built.total.execute(values),
    window.offset,
  );
}

/** Rows of one table by id as a JSON array, the fields named by their keys in `fields`. */
function rowsAsJson(
  fields: Record<string, AnyPgColumn | SQL>,
  table: PgTable,
  id: AnyPgColumn,
  ids: SQL,
): SQL {
  const list = sql.join(
    Object.entries(fields).map(([key, field]) => sql`${field} as ${sql.identifier(key)}`),
    sql`, `,
  );
  return sql`(select coalesce(json_agg(r), '[]'::json) from (select ${list} from ${table} where ${id} = any(${ids}::uuid[])) r)`;
}

/** Per field of a JSON row: its key, and how its column maps a driver value (none for SQL). */
type JsonFields = [key: string, map: ((value: unknown) => unknown) | undefined][];
const jsonFieldsOf = new WeakMap<object, JsonFields>();

/** A row from its JSON form, each column's value as the driver would have given it. */
function fromJson<R>(fields: Record<string, AnyPgColumn | SQL>, json: Record<string, unknown>): R {
  let mapped = jsonFieldsOf.get(fields);
  if (!mapped) {
    mapped = Object.entries(fields).map(([key, field]) => [
      key,
      is(field, Column) ? (value: unknown) => field.mapFromDriverValue(value) : undefined,
    ]);
    jsonFieldsOf.set(fields, mapped);
  }
  const row: Record<string, unknown> = {};
  for (const [key, map] of mapped) {
    const value = json[key] ?? null;
    row[key] = value !== null && map ? map(value) : value;
  }
  return row as R;
}

const songByIdFields = { ...songColumns, ...songSearch.also(songColumns) };

/** The statement of `rowsByIds`: one round trip for the three tables. */
function byIdStatement(db: Executor) {
  const slot = (name: string) => sql`${sql.placeholder(name)}`;
  return db
    .select({
      artists: rowsAsJson(artistColumns, artists, artists.id, slot('artists')),
      albums: rowsAsJson(albumColumns, albums, albums.id, slot('albums')),
      songs: rowsAsJson(songByIdFields, songs, songs.id, slot('songs')),
    })
    .from(sql`(select 1) as one`)
    .prepare('catalog_rows_by_id');
}

const byIdCache = new WeakMap<Executor, Map<string, ReturnType<typeof byIdStatement>>>();

/** In the order of `ids` (an id given twice, twice), leaving out ids without a row. */
export const inOrder = <R extends { id: string }>(ids: string[], rows: R[]) => {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => found.get(id) ?? []);
};

/**
 * Artists, albums and songs by id, each in the order of its `ids` (ids without a row are left
 * out), in one statement: the pages of a search whose order the search index decided. Songs
 * carry their album's title.
 */
export async function rowsByIds(
  db: Executor,
  ids: { artist: string[]; album: string[]; song: string[] },
): Promise<{ artist: ArtistRow[]; album: AlbumRow[]; song: SongRow[] }> {
  const statement = builtOnce(byIdCache, db, 'rows', () => byIdStatement(db));
  const array = (values: string[]) => `{${values.join(',')}}`;
  const [found] = (await statement.execute({
    artists: array(ids.artist),
    albums: array(ids.album),
    songs: array(ids.song),
  })) as {
    artists: Record<string, unknown>[];
    albums: Record<string, unknown>[];
    songs: Record<string, unknown>[];
  }[];
  return {
    artist: inOrder(
      ids.artist,
      found!.artists.map((r) => fromJson<ArtistRow>(artistColumns, r)),
    ),
    album: inOrder(
      ids.album,
      found!.albums.map((r) => fromJson<AlbumRow>(albumColumns, r)),
    ),
    song: inOrder(
      ids.song,
      found!.songs.map((r) => fromJson<SongRow>(songByIdFields, r)),
    ),
  };
}

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
  /** `q`'s matcher, when the caller looked it up already (`searchQuery`; null: matches nothing). */
  search?: string | null;
  /** Lower-cased. */
  genres?: string[];
}

export async function listArtists(
  db: Executor,
  filter: ArtistFilter & PageWindow & { sort: SortOrRelevance<ArtistSortField> },
): Promise<{ rows: ArtistRow[]; total: number }> {
  const search = await matcherOf(db, filter);
  const q = filter.q ?? '';
  const plain = plainMatcher(filter, search, [filter.genres]);
  if (plain)
    return plainSearchPage<ArtistRow, typeof artistColumns, Record<string, never>>(
      db,
      artistSearch,
      plain,
      q,
      filter,
    );
  const matching = and(
    artistInScope(filter.scope),
    search !== undefined ? matchesText(search, artists.searchVector) : undefined,
    filter.genres?.length
      ? sql`catalog_lower_genres(${artists.genres}) && array[${sql.join(
          filter.genres.map((g) => sql`${g}`),
          sql`, `,
        )}]::text[]`
      : undefined,
  );
  if (filter.sort === 'relevance' && search !== undefined) {
    return rankedPage<ArtistRow, typeof artistColumns, Record<string, never>>(
      db,
      artistSearch,
      matching,
      q,
      filter,
    );
  }
  const order =
    filter.sort === 'relevance'
      ? relevanceOrder(q, [artists.name], artists.name, artists.id)
      : sortOrder(artistSortColumns[filter.sort.field], filter.sort.descending, artists.id);
  return pageAndTotal<ArtistRow>(
    db
      .select(artistColumns)
      .from(artists)
      .where(matching)
      .orderBy(...order)
      .limit(filter.limit)
      .offset(filter.offset),
    () => db.select({ total: count() }).from(artists).where(matching),
  );
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

export const albumSortColumns: Record<AlbumSortField, SQL | AnyPgColumn> = {
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
  /** `q`'s matcher, when the caller looked it up already (`searchQuery`; null: matches nothing). */
  search?: string | null;
}

/** Ids of the artists named `name` (whole name, any case), through the artists' name index. */
const artistsNamed = (name: unknown) =>
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

/**
 * The values an album list's conditions take, by name; undefined where the filter is not set.
 * Which of them are set decides the SQL (`albumConditions`) and the statement's shape
 * (`sortedAlbumPage`), so both read it from here.
 */
function albumValues(filter: AlbumFilter) {
  return {
    scopeArtistId: filter.scope.kind === 'own' ? filter.scope.artistId : undefined,
    genres: given(filter.genres),
    artistId: given(filter.artistId),
    artistName: given(filter.artistName),
    year: filter.year,
    yearFrom: filter.yearFrom,
    yearTo: filter.yearTo,
    types: given(filter.types),
  };
}

type AlbumValues = ReturnType<typeof albumValues>;

/**
 * The conditions of an album list. `slot` gives each value as a placeholder of a statement
 * built once per shape of filter (`sortedAlbumPage`); without it the values are parameters.
 */
function albumConditions(filter: AlbumFilter, slot?: (name: keyof AlbumValues) => unknown): SQL | undefined {
  const values = albumValues(filter);
  // One parameter each: drizzle would spell a bare array out as a row, `($1, $2)`.
  const value = slot ?? ((name: keyof AlbumValues) => sql.param(values[name]));
  const set = (name: keyof AlbumValues) => values[name] !== undefined;
  return and(
    set('scopeArtistId')
      ? sql`(${listedAlbum()} or ${albums.artistId} = ${value('scopeArtistId')})`
      : albumInScope(filter.scope),
    set('genres') ? sql`lower(${albums.genre}) = any(${value('genres')}::text[])` : undefined,
    set('artistId') ? sql`${albums.artistId} = ${value('artistId')}` : undefined,
    // Through the artists' name index, then the albums' artist index: no scan of albums.
    set('artistName') ? sql`${albums.artistId} in ${artistsNamed(value('artistName'))}` : undefined,
    set('year') ? sql`${albums.releaseYear} = ${value('year')}` : undefined,
    set('yearFrom') ? sql`${albums.releaseYear} >= ${value('yearFrom')}` : undefined,
    set('yearTo') ? sql`${albums.releaseYear} <= ${value('yearTo')}` : undefined,
    set('types') ? sql`${albums.albumType} = any(${value('types')}::text[])` : undefined,
  );
}

export async function listAlbums(
  db: Executor,
  filter: AlbumFilter & PageWindow & { sort: SortOrRelevance<AlbumSortField> },
): Promise<{ rows: AlbumRow[]; total: number }> {
  const search = await matcherOf(db, filter);
  if (filter.sort !== 'relevance') return sortedAlbumPage(db, { ...filter, search }, filter.sort);
  const q = filter.q ?? '';
  const plain = plainMatcher(filter, search, Object.values(albumValues(filter)));
  if (plain)
    return plainSearchPage<AlbumRow, typeof albumColumns, AlbumRanking>(db, albumSearch, plain, q, filter);
  // Other ranked pages are built per request (the sorted ones keep theirs per shape).
  const matching = and(
    albumConditions(filter),
    search !== undefined ? matchesText(search, albums.searchVector) : undefined,
  );
  if (search !== undefined) {
    return rankedPage<AlbumRow, typeof albumColumns, AlbumRanking>(db, albumSearch, matching, q, filter);
  }
  // No words to match (`q` was blank after normalising): nothing is ranked.
  return pageAndTotal<AlbumRow>(
    db
      .select(albumColumns)
      .from(albums)
      .where(matching)
      .orderBy(...relevanceOrder('', [albums.title, albums.artistName], albums.searchText, albums.id))
      .limit(filter.limit)
      .offset(filter.offset),
    () => db.select({ total: count() }).from(albums).where(matching),
  );
}

/** A placeholder of the statements `sortedAlbumPage` keeps, filled from `AlbumValues` and the window. */
const slot = (name: keyof AlbumValues | keyof PageWindow | 'search') => sql.placeholder(name);

/**
 * The two statements of a sorted album page: the page with its total on every row, and the
 * total alone for a page past the end (which has no row to carry it).
 */
function sortedAlbumStatements(db: Executor, filter: AlbumFilter, sort: Sort<AlbumSortField>) {
  const where = and(
    albumConditions(filter, slot),
    // A search (`q` with a sort of its own): its matcher is a parameter too.
    filter.search === undefined ? undefined : matchesText(filter.search, albums.searchVector, slot('search')),
  );
  const order = sortOrder(albumSortColumns[sort.field], sort.descending, albums.id);
  // The page is picked by id first: with a genre and year filter, the ids and every sort column
  // come from `albums_listed_genre_year_idx` alone (index-only), and only the page's rows are
  // read from the table, instead of every matching row being read to be sorted.
  const pageIds = db
    .select({ id: albums.id })
    .from(albums)
    .where(where)
    .orderBy(...order)
    .limit(slot('limit'))
    .offset(slot('offset'));
  const total = db.select({ total: count() }).from(albums).where(where);
  // An empty name: drizzle builds the SQL once, and each run is an unnamed statement, planned
  // for its own values (a generic plan could walk a sort index past a rare genre's rows).
  return {
    page: db
      .select({ ...albumColumns, total: sql<number>`(${total})`.mapWith(Number) })
      .from(albums)
      .where(sql`${albums.id} in (${pageIds})`)
      .orderBy(...order)
      .prepare(''),
    total: total.prepare(''),
  };
}

type SortedAlbumStatements = ReturnType<typeof sortedAlbumStatements>;

/**
 * Built statements of sorted album pages, per executor and shape of filter (scope kind, which
 * filters are set, sort): building a page's SQL was a large part of what an uncached page cost
 * the server.
 */
const sortedAlbumCache = new WeakMap<Executor, Map<string, SortedAlbumStatements>>();

async function sortedAlbumPage(
  db: Executor,
  filter: AlbumFilter & PageWindow,
  sort: Sort<AlbumSortField>,
): Promise<{ rows: AlbumRow[]; total: number }> {
  const values = {
    ...albumValues(filter),
    search: filter.search,
    limit: filter.limit,
    offset: filter.offset,
  };
  // The shape: which values are set (a search's matcher may also be null, matching nothing).
  const shape = [
    filter.scope.kind,
    ...Object.values(values).map((value) => (value === undefined ? 0 : value === null ? 'null' : 1)),
    sort.field,
    sort.descending,
  ].join(':');
  const statements = builtOnce(sortedAlbumCache, db, shape, () => sortedAlbumStatements(db, filter, sort));
  const rows = await statements.page.execute(values);
  if (rows.length) return { rows: rows.map(({ total: _, ...row }) => row), total: rows[0]!.total };
  if (filter.offset === 0) return { rows: [], total: 0 };
  return { rows: [], total: (await statements.total.execute(values))[0]?.total ?? 0 };
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
  /** `q`'s matcher, when the caller looked it up already (`searchQuery`; null: matches nothing). */
  search?: string | null;
}

export async function listSongs(
  db: Executor,
  filter: SongFilter & PageWindow & { sort: SortOrRelevance<SongSortField> },
): Promise<{ rows: SongRow[]; total: number }> {
  const search = await matcherOf(db, filter);
  const q = filter.q ?? '';
  const plain = plainMatcher(filter, search, [
    filter.albumId,
    filter.artistId,
    filter.artistName,
    filter.year,
    filter.yearFrom,
    filter.yearTo,
    filter.genres,
  ]);
  if (plain)
    return plainSearchPage<SongRow, typeof songColumns, SongRanking>(db, songSearch, plain, q, filter);
  const matching = and(
    songInScope(filter.scope),
    filter.albumId ? eq(songs.albumId, filter.albumId) : undefined,
    filter.artistId ? eq(songs.artistId, filter.artistId) : undefined,
    filter.artistName ? inArray(songs.artistId, artistsNamed(filter.artistName)) : undefined,
    ...yearConditions(songs.releaseYear, filter),
    filter.genres?.length ? lowerIn(songs.genre, filter.genres) : undefined,
    search !== undefined ? matchesText(search, songs.searchVector) : undefined,
  );
  if (filter.sort === 'relevance' && search !== undefined) {
    return rankedPage<SongRow, typeof songColumns, SongRanking>(db, songSearch, matching, q, filter);
  }
  const order =
    filter.sort === 'relevance'
      ? relevanceOrder(q, [songs.title, songs.artistName], songs.searchText, songs.id)
      : sortOrder(songSortColumns[filter.sort.field], filter.sort.descending, songs.id);
  const { rows: page, total } = await pageAndTotal<Omit<SongRow, 'albumTitle'>>(
    db
      .select(songColumns)
      .from(songs)
      .where(matching)
      .orderBy(...order)
      .limit(filter.limit)
      .offset(filter.offset),
    () => db.select({ total: count() }).from(songs).where(matching),
  );
  return { rows: await withAlbumTitles(db, page), total };
}

/**
 * Adds album titles to a page of songs by primary key. Joining before the page is cut would
 * make PostgreSQL join every matching song (a hash join over all albums) only to keep 20. A
 * relevance page reads them in its own statement instead (`songSearch.also`), since its sort
 * puts the lookup after the cut; a sorted list read along an index would look up every row its
 * offset skips.
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
