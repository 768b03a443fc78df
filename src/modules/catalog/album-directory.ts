import { asc, type SQL, sql } from 'drizzle-orm';
import type { Cache } from '../../platform/cache.js';
import type { Executor } from '../../platform/db.js';
import { ALBUM_LISTS_TAG } from './catalog.cache.js';
import { listedAlbum } from './catalog.listed.js';
import {
  ALBUM_SORTS,
  type AlbumFilter,
  type AlbumRow,
  type AlbumSortField,
  albumColumns,
  albumSortColumns,
  type Sort,
  type SortOrRelevance,
} from './catalog.repo.js';
import { albums } from './catalog.tables.js';

// ---------------------------------------------------------------------------------------------
// The album directory: every listed album in this process's memory, in the order of each sort,
// so that a browsed page (genres, years, types, a sort, a window) is a scan of a few thousand
// integers instead of a statement. It answers only for the version of the album lists it was
// built at (the cache's `ALBUM_LISTS_TAG` stamp, which every write to an album bumps), and no
// longer than a cached list lives; otherwise the database answers and the directory is built
// again in the background. See "Album directory" in docs/architecture.md.

/** Above this many listed albums no directory is kept (about 1 KB each): the database answers. */
export const DIRECTORY_MAX_ALBUMS = 250_000;

/** Time spent rebuilding is at most 1 / REBUILD_SHARE of the time: after a build of d ms, wait 9d. */
const REBUILD_SHARE = 10;

/** After finding more than DIRECTORY_MAX_ALBUMS, look again this much later. */
const TOO_LARGE_RETRY_MS = 10 * 60_000;

export type DirectoryQuery = AlbumFilter & {
  sort: SortOrRelevance<AlbumSortField>;
  limit: number;
  offset: number;
};

type OrderKey = `${AlbumSortField}:${'asc' | 'desc'}`;

interface Built {
  stamp: string;
  builtAt: number;
  /** Listed albums in id order: an album's index is its place in that order. */
  rows: AlbumRow[];
  genreCodes: Map<string, number>;
  typeCodes: Map<string, number>;
  genre: Int32Array;
  type: Int32Array;
  year: Int32Array;
  /** Album indexes in each sort's order (ties by id), over all albums and per genre code. */
  orders: Map<OrderKey, Int32Array>;
  byGenre: Map<OrderKey, Int32Array>[];
}

const orderKey = (field: AlbumSortField, descending: boolean): OrderKey =>
  `${field}:${descending ? 'desc' : 'asc'}`;

/** `value` when it filters anything: an empty string or list does not (as the statements judge it). */
const given = <T>(value: T): T | undefined =>
  value === '' || (Array.isArray(value) && value.length === 0) ? undefined : value;

/** Whether the directory can answer the page: the listed scope, browsing filters and a sort. */
function answerable(query: DirectoryQuery): query is DirectoryQuery & { sort: Sort<AlbumSortField> } {
  return (
    query.scope.kind === 'listed' &&
    query.sort !== 'relevance' &&
    given(query.q) === undefined &&
    given(query.artistId) === undefined &&
    given(query.artistName) === undefined
  );
}

/**
 * Indexes 0..n-1 (id order) sorted by `rank` (dense, from 1), either way, ties in id order: a
 * stable counting sort, O(n) where a comparison sort of 100k albums took ~50 ms per order.
 */
function orderOf(rank: Int32Array, maxRank: number, descending: boolean): Int32Array {
  const starts = new Int32Array(maxRank + 1);
  const bucket = (i: number) => (descending ? maxRank - rank[i]! : rank[i]! - 1);
  for (let i = 0; i < rank.length; i++) starts[bucket(i) + 1]!++;
  for (let b = 1; b <= maxRank; b++) starts[b]! += starts[b - 1]!;
  const order = new Int32Array(rank.length);
  for (let i = 0; i < rank.length; i++) order[starts[bucket(i)]!++] = i;
  return order;
}

const codeOf = (codes: Map<string, number>, value: string) => {
  const known = codes.get(value);
  if (known !== undefined) return known;
  codes.set(value, codes.size);
  return codes.size - 1;
};

/**
 * Reads every listed album with its rank under each sort. PostgreSQL ranks them with the very
 * expressions the page statements order by (`albumSortColumns`: collation, nulls), so the
 * directory's order is the database's, not a re-implementation of it.
 */
async function load(db: Executor, stamp: string, builtAt: number): Promise<Built | undefined> {
  const ranks = Object.fromEntries(
    ALBUM_SORTS.map((field) => [
      `rank_${field}`,
      sql<number>`dense_rank() over (order by ${albumSortColumns[field] as SQL})`.mapWith(Number),
    ]),
  ) as Record<`rank_${AlbumSortField}`, SQL<number>>;
  const read = await db
    .select({ ...albumColumns, genreKey: sql<string>`lower(${albums.genre})`, ...ranks })
    .from(albums)
    .where(listedAlbum())
    .orderBy(asc(albums.id))
    .limit(DIRECTORY_MAX_ALBUMS + 1);
  if (read.length > DIRECTORY_MAX_ALBUMS) return undefined;

  const n = read.length;
  const built: Built = {
    stamp,
    builtAt,
    rows: new Array<AlbumRow>(n),
    genreCodes: new Map(),
    typeCodes: new Map(),
    genre: new Int32Array(n),
    type: new Int32Array(n),
    year: new Int32Array(n),
    orders: new Map(),
    byGenre: [],
  };
  const rankOf = Object.fromEntries(ALBUM_SORTS.map((field) => [field, new Int32Array(n)])) as Record<
    AlbumSortField,
    Int32Array
  >;
  read.forEach((entry, i) => {
    const { genreKey, ...rest } = entry;
    const row = { ...rest } as Record<string, unknown>;
    for (const field of ALBUM_SORTS) {
      rankOf[field][i] = entry[`rank_${field}`];
      delete row[`rank_${field}`];
    }
    built.rows[i] = row as AlbumRow;
    built.genre[i] = codeOf(built.genreCodes, genreKey);
    built.type[i] = codeOf(built.typeCodes, entry.albumType);
    built.year[i] = entry.releaseYear;
  });
  const genres = built.genreCodes.size;
  built.byGenre = Array.from({ length: genres }, () => new Map());
  const perGenre = new Int32Array(genres);
  for (let i = 0; i < n; i++) perGenre[built.genre[i]!]!++;
  for (const field of ALBUM_SORTS) {
    const rank = rankOf[field];
    const maxRank = rank.reduce((max, r) => Math.max(max, r), 0);
    for (const descending of [false, true]) {
      const key = orderKey(field, descending);
      const order = orderOf(rank, maxRank, descending);
      built.orders.set(key, order);
      const parts = Array.from(perGenre, (size) => new Int32Array(size));
      const filled = new Int32Array(genres);
      for (const i of order) {
        const g = built.genre[i]!;
        parts[g]![filled[g]!++] = i;
      }
      parts.forEach((part, g) => {
        built.byGenre[g]!.set(key, part);
      });
    }
  }
  return built;
}

const NOTHING = new Int32Array(0);

/** The page and total of `query` from `built`, exactly as `listAlbums` would answer them. */
function answer(built: Built, query: DirectoryQuery & { sort: Sort<AlbumSortField> }) {
  const key = orderKey(query.sort.field, query.sort.descending);
  const genres = given(query.genres)?.map((g) => built.genreCodes.get(g) ?? -1);
  const types = given(query.types)?.map((type) => built.typeCodes.get(type) ?? -1);
  let order = built.orders.get(key)!;
  let genreSet: Set<number> | undefined;
  if (genres && new Set(genres).size === 1) {
    // One genre: scan only its albums.
    order = genres[0]! < 0 ? NOTHING : built.byGenre[genres[0]!]!.get(key)!;
  } else if (genres) {
    genreSet = new Set(genres);
  }
  const typeSet = types && new Set(types);
  const { year, yearFrom, yearTo, limit, offset } = query;
  const rows: AlbumRow[] = [];
  let total = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const y = built.year[i]!;
    if (
      (genreSet && !genreSet.has(built.genre[i]!)) ||
      (typeSet && !typeSet.has(built.type[i]!)) ||
      (year !== undefined && y !== year) ||
      (yearFrom !== undefined && y < yearFrom) ||
      (yearTo !== undefined && y > yearTo)
    ) {
      continue;
    }
    if (total >= offset && rows.length < limit) rows.push(built.rows[i]!);
    total++;
  }
  return { rows, total };
}

export interface AlbumDirectory {
  /**
   * The page from the directory when it can answer it for the album lists at `stamp`; else
   * undefined (the caller asks the database), and a build starts if one is due.
   */
  page(stamp: string, query: DirectoryQuery): { rows: AlbumRow[]; total: number } | undefined;
  /** Builds the directory now (for tests and warm-up); resolves when it is done or failed. */
  refresh(): Promise<void>;
}

export function createAlbumDirectory(
  db: Executor,
  cache: Cache,
  now: () => number = Date.now,
): AlbumDirectory {
  let built: Built | undefined;
  let building: Promise<void> | undefined;
  let nextBuildAt = 0;
  // A cached list lives this long; so does a directory, whatever missed invalidations there were.
  const lifetimeMs = cache.defaultTtlSec * 1000;

  function build(): Promise<void> {
    building ??= (async () => {
      const started = now();
      // The old one is stale (that is why a build started): let it go before reading anew.
      built = undefined;
      let tooLarge = false;
      try {
        // Versions first, then the rows: a write committed meanwhile is in the rows but bumped
        // after the stamp, so the directory is already stale for it, never wrong.
        const stamp = (await cache.store.versions([ALBUM_LISTS_TAG])).join('.');
        built = await load(db, stamp, started);
        tooLarge = built === undefined;
      } catch {
        // The database path answers (and reports) while the directory cannot be built.
      } finally {
        const took = now() - started;
        nextBuildAt = now() + (tooLarge ? TOO_LARGE_RETRY_MS : took * (REBUILD_SHARE - 1));
        building = undefined;
      }
    })();
    return building;
  }

  return {
    page(stamp, query) {
      if (!answerable(query)) return undefined;
      if (built && built.stamp === stamp && now() - built.builtAt < lifetimeMs) return answer(built, query);
      if (now() >= nextBuildAt) void build();
      return undefined;
    },
    refresh: build,
  };
}
