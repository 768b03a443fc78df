import { asc, type SQL, sql } from 'drizzle-orm';
import type { Cache } from '../../platform/cache.js';
import type { Executor } from '../../platform/db.js';
import { memoryCopy } from '../../platform/memory-copy.js';
import { ALBUM_LISTS_TAG } from './catalog.cache.js';
import { listedAlbum } from './catalog.listed.js';
import {
  ALBUM_SORTS,
  type AlbumFilter,
  type AlbumRow,
  type AlbumSortField,
  albumColumns,
  albumSortColumns,
  given,
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

/** Above this many listed albums no directory is kept (about 800 bytes each): the database answers. */
const DIRECTORY_MAX_ALBUMS = 250_000;

export type DirectoryQuery = AlbumFilter & {
  sort: SortOrRelevance<AlbumSortField>;
  limit: number;
  offset: number;
};

type OrderKey = `${AlbumSortField}:${'asc' | 'desc'}`;

interface Built {
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
  /** Albums per (release year, type), per genre code and over every genre: a page's total. */
  histograms: YearHistogram[];
  everyGenre: YearHistogram;
}

/** What the build reads per album, before the orders and counts made from it. */
type Columns = Pick<Built, 'rows' | 'genreCodes' | 'typeCodes' | 'genre' | 'type' | 'year'>;

/** Album counts from the year `from` on: `counts[(year - from) * typeCount + typeCode]`. */
interface YearHistogram {
  from: number;
  counts: Int32Array;
}

const orderKey = (field: AlbumSortField, descending: boolean): OrderKey =>
  `${field}:${descending ? 'desc' : 'asc'}`;

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
async function load(db: Executor): Promise<Built | undefined> {
  // One array of ranks, in ALBUM_SORTS order, so a row sheds it by destructuring: deleting
  // properties would leave 100k objects in V8's slow dictionary mode (twice the memory).
  const ranks = sql.join(
    ALBUM_SORTS.map((field) => sql`(dense_rank() over (order by ${albumSortColumns[field] as SQL}))::int`),
    sql`, `,
  );
  const read = await db
    .select({
      ...albumColumns,
      genreKey: sql<string>`lower(${albums.genre})`,
      ranks: sql<number[]>`array[${ranks}]`,
    })
    .from(albums)
    .where(listedAlbum())
    .orderBy(asc(albums.id))
    .limit(DIRECTORY_MAX_ALBUMS + 1);
  if (read.length > DIRECTORY_MAX_ALBUMS) return undefined;

  const n = read.length;
  const columns: Columns = {
    rows: new Array<AlbumRow>(n),
    genreCodes: new Map(),
    typeCodes: new Map(),
    genre: new Int32Array(n),
    type: new Int32Array(n),
    year: new Int32Array(n),
  };
  const rankOf = ALBUM_SORTS.map(() => new Int32Array(n));
  read.forEach((entry, i) => {
    const { genreKey, ranks: rowRanks, ...row } = entry;
    rowRanks.forEach((rank, s) => {
      rankOf[s]![i] = Number(rank);
    });
    columns.rows[i] = row as AlbumRow;
    columns.genre[i] = codeOf(columns.genreCodes, genreKey);
    columns.type[i] = codeOf(columns.typeCodes, entry.albumType);
    columns.year[i] = entry.releaseYear;
  });
  return { ...columns, ...ordersOf(columns, rankOf), ...histogramsOf(columns) };
}

/** Each sort's order (either way) over all albums, and split by genre keeping that order. */
function ordersOf(columns: Columns, rankOf: Int32Array[]): Pick<Built, 'orders' | 'byGenre'> {
  const genres = columns.genreCodes.size;
  const orders: Built['orders'] = new Map();
  const byGenre: Built['byGenre'] = Array.from({ length: genres }, () => new Map());
  const perGenre = new Int32Array(genres);
  for (const g of columns.genre) perGenre[g]!++;
  for (const [s, field] of ALBUM_SORTS.entries()) {
    const rank = rankOf[s]!;
    const maxRank = rank.reduce((max, r) => Math.max(max, r), 0);
    for (const descending of [false, true]) {
      const key = orderKey(field, descending);
      const order = orderOf(rank, maxRank, descending);
      orders.set(key, order);
      const parts = Array.from(perGenre, (size) => new Int32Array(size));
      const filled = new Int32Array(genres);
      for (const i of order) {
        const g = columns.genre[i]!;
        parts[g]![filled[g]!++] = i;
      }
      parts.forEach((part, g) => {
        byGenre[g]!.set(key, part);
      });
    }
  }
  return { orders, byGenre };
}

const NOTHING = new Int32Array(0);

/** Year histograms of every genre code (one pass each over the albums), and of them all. */
function histogramsOf(built: Columns): Pick<Built, 'histograms' | 'everyGenre'> {
  const genres = built.genreCodes.size;
  const width = built.typeCodes.size;
  const from = new Array<number>(genres + 1).fill(Infinity);
  const to = new Array<number>(genres + 1).fill(-Infinity);
  const every = genres;
  for (let i = 0; i < built.year.length; i++) {
    for (const g of [built.genre[i]!, every]) {
      from[g] = Math.min(from[g]!, built.year[i]!);
      to[g] = Math.max(to[g]!, built.year[i]!);
    }
  }
  const all = from.map((start, g) =>
    start > to[g]!
      ? { from: 0, counts: NOTHING }
      : { from: start, counts: new Int32Array((to[g]! - start + 1) * width) },
  );
  for (let i = 0; i < built.year.length; i++) {
    for (const g of [built.genre[i]!, every]) {
      all[g]!.counts[(built.year[i]! - all[g]!.from) * width + built.type[i]!]!++;
    }
  }
  return { histograms: all.slice(0, genres), everyGenre: all[every]! };
}

/** Matches of a release-year range (inclusive) and a set of type codes (all when undefined). */
function countIn(
  built: Built,
  histogram: YearHistogram,
  lo: number,
  hi: number,
  types: number[] | undefined,
): number {
  const width = built.typeCodes.size;
  let total = 0;
  const last = Math.min(hi, histogram.from + histogram.counts.length / width - 1);
  for (let y = Math.max(lo, histogram.from); y <= last; y++) {
    const row = (y - histogram.from) * width;
    if (types) for (const t of types) total += histogram.counts[row + t]!;
    else for (let t = 0; t < width; t++) total += histogram.counts[row + t]!;
  }
  return total;
}

/** The page and total of `query` from `built`, exactly as `listAlbums` would answer them. */
function answer(built: Built, query: DirectoryQuery & { sort: Sort<AlbumSortField> }) {
  const key = orderKey(query.sort.field, query.sort.descending);
  const genres = given(query.genres) && [...new Set(query.genres!.map((g) => built.genreCodes.get(g) ?? -1))];
  const types = given(query.types) && [...new Set(query.types!.map((t) => built.typeCodes.get(t) ?? -1))];
  const { year, yearFrom, yearTo, limit, offset } = query;
  // The years every condition allows: `year`, `yearFrom` and `yearTo` all hold.
  const lo = Math.max(year ?? -Infinity, yearFrom ?? -Infinity);
  const hi = Math.min(year ?? Infinity, yearTo ?? Infinity);
  const knownTypes = types?.filter((t) => t >= 0);
  const histograms = genres
    ? genres.flatMap((g) => (g >= 0 ? [built.histograms[g]!] : []))
    : [built.everyGenre];
  const total = histograms.reduce((sum, histogram) => sum + countIn(built, histogram, lo, hi, knownTypes), 0);

  const rows: AlbumRow[] = [];
  if (offset >= total) return { rows, total };
  // One genre: walk only its albums; several: walk all, keeping theirs.
  const order =
    genres?.length === 1
      ? genres[0]! < 0
        ? NOTHING
        : built.byGenre[genres[0]!]!.get(key)!
      : built.orders.get(key)!;
  const genreSet = genres && genres.length > 1 ? new Set(genres) : undefined;
  const typeSet = knownTypes && new Set(knownTypes);
  let skipped = 0;
  for (let k = 0; k < order.length && rows.length < limit; k++) {
    const i = order[k]!;
    const y = built.year[i]!;
    if (
      y < lo ||
      y > hi ||
      (genreSet && !genreSet.has(built.genre[i]!)) ||
      (typeSet && !typeSet.has(built.type[i]!))
    ) {
      continue;
    }
    if (skipped < offset) skipped++;
    else rows.push(built.rows[i]!);
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
  /** Builds started so far. */
  readonly builds: number;
}

export function createAlbumDirectory(
  db: Executor,
  cache: Cache,
  now: () => number = Date.now,
): AlbumDirectory {
  const copy = memoryCopy(cache, [ALBUM_LISTS_TAG], () => load(db), { now });
  return {
    page(stamp, query) {
      if (!answerable(query)) return undefined;
      const built = copy.at(stamp);
      return built && answer(built, query);
    },
    refresh: () => copy.refresh(),
    get builds() {
      return copy.builds;
    },
  };
}
