import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { getTableName, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { FastifyBaseLogger } from 'fastify';
import type { Cache } from '../../platform/cache.js';
import { type Executor, rowsOf } from '../../platform/db.js';
import { memoryCopy } from '../../platform/memory-copy.js';
import { SEARCH_TAG } from './catalog.cache.js';
import { listedAlbum, listedSong } from './catalog.listed.js';
import { artistInScope } from './catalog.repo.js';
import { albums, artists, songs } from './catalog.tables.js';
import {
  breather,
  INDEXED_TYPES,
  type IndexedPage,
  type IndexedSearch,
  type IndexedType,
  type Reading,
} from './search-built.js';
import type { FromWorker, ToWorker } from './search-worker.js';

export {
  INDEXED_TYPES,
  type IndexedPage,
  type IndexedSearch,
  type IndexedType,
  plainQueryWords,
} from './search-built.js';

// ---------------------------------------------------------------------------------------------
// The search index: what a plain search (`/search`, the listed catalog, ranked by relevance)
// reads, held in this process's memory (a worker thread's), so that a search costs a fraction
// of a millisecond of JavaScript and one fetch of the page's rows by primary key instead of five
// statements (about 7.5 ms of PostgreSQL per search at size L). It answers exactly as `catalog.search.ts` and the relevance
// statements of `catalog.repo.ts` do:
// - each query word stands for the lexicon's words with it as a prefix (one-letter words among
//   others: the word itself), its one-edit neighbours when no lexicon word starts with it, and
//   its SIMILAR_WORDS closest lexicon words by trigram similarity (pg_trgm's `%` and `<->`,
//   re-implemented in trigrams.ts and checked against PostgreSQL by its tests);
// - a row matches when every query word has one of its words among the row's own words (the
//   full-text query's `&` of `|`), and the first SEARCH_CANDIDATES matches are ranked: exact
//   name, then prefix, then `word_similarity`, then id.
// The only difference: past SEARCH_CANDIDATES matches, which ones are ranked is unspecified in
// both; the database takes them in its scan's order, the index in id order.
// The index answers only at the version of SEARCH_TAG it was built at (every write to a name
// or to what is listed bumps it) and for INDEX_LIFETIME_MS at most. See "Search" (fifth round)
// in docs/architecture.md.
// The index lives in a worker thread (search-worker.ts): this thread reads the rows from the
// database and hands them over; the worker assembles the index and answers each search, so
// that ranking (most of a search's CPU) runs beside the thread serving HTTP, and so does the
// assembly (seconds at a million songs). See "Search" (eleventh round) in docs/architecture.md.

/** Above this many listed rows of one type no index is kept: the database answers. */
const INDEX_MAX_ROWS = 2_000_000;

/** Table pages read per statement while building (2 MB): rows come in the table's own order. */
const BUILD_PAGES = 256;

/**
 * How long an index lives at least, whatever the cache's TTL: every write through the app makes
 * it stale at once (SEARCH_TAG), so its lifetime only bounds writes that bypass the app, while
 * a build costs seconds of CPU at a million songs (6 s at size L).
 */
const INDEX_LIFETIME_MS = 10 * 60_000;

/**
 * Pages an index keeps its answers for, of any type (about 1.5 KB each, 3 KB for songs with their
 * albums): searches repeat (popular names, a typo many people make), and a page depends on
 * nothing but the index and the query.
 */
const ANSWERS_KEPT = 10_000;

/** The pages of a plain search for each of `types`, or undefined when the index is gone meanwhile. */
export type Searcher = (
  query: IndexedSearch,
  types: IndexedType[],
) => Promise<Map<IndexedType, IndexedPage> | undefined>;

export interface SearchIndex {
  /**
   * The index built at `stamp` (the cache's stamp of SEARCH_TAG), as a function giving the
   * pages of a plain search for each of `types`; else undefined (the caller asks the database),
   * and a build starts if one is due.
   */
  at(stamp: string): Searcher | undefined;
  /** Builds the index now (for tests and warm-up); resolves when it is done or failed. */
  refresh(): Promise<void>;
  /** Builds started so far. */
  readonly builds: number;
  /** Ends the worker thread (the index is gone; the next build starts another). */
  close(): Promise<void>;
}

/** A searched table: what users see of it (the catalog's own rule), its names and its words. */
interface Source {
  table: typeof artists | typeof albums | typeof songs;
  listed: SQL;
  title: AnyPgColumn;
  artistName: AnyPgColumn | undefined;
  album?: AnyPgColumn;
}

const SOURCES: Record<IndexedType, Source> = {
  artist: {
    table: artists,
    listed: artistInScope({ kind: 'listed' })!,
    title: artists.name,
    artistName: undefined,
  },
  album: { table: albums, listed: listedAlbum(), title: albums.title, artistName: albums.artistName },
  song: {
    table: songs,
    listed: listedSong(),
    title: songs.title,
    artistName: songs.artistName,
    album: songs.albumId,
  },
};

interface ReadRow {
  key: string;
  album: string | null;
  title: string;
  artist_name: string | null;
  words: string;
}

/** A growable Int32Array. */
class Ints {
  values = new Int32Array(1024);
  length = 0;
  push(value: number) {
    if (this.length === this.values.length) {
      const grown = new Int32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
}

/** The arrays of a `Reading` that grow while its rows are read. */
type Growing = 'textEnd' | 'titleLength' | 'words' | 'wordEnd';

/**
 * Rows of one type while they are read, in the table's order, compact from the start (the
 * words as lexicon ids) so that a build of a million rows leaves little for the collector: a
 * `Reading` whose arrays still grow.
 */
type Gathering = Omit<Reading, Growing> & Record<Growing, Ints>;

const trimmed = (ints: Ints) => ints.values.slice(0, ints.length);

/** A word's lexicon id; a word the lexicon lacks gets the next id (and the lexicon is sorted again later). */
function wordId(lexicon: Map<string, number>, word: string): number {
  let id = lexicon.get(word);
  if (id === undefined) {
    id = lexicon.size;
    lexicon.set(word, id);
  }
  return id;
}

/**
 * Every listed row of a type, read page range by page range in the table's own order (a
 * sequential read: in id order, each row was a random heap access, 20 us apiece at 1M songs).
 * Rows written meanwhile may be missed or seen twice, but such writes came after the version
 * the build read, so the index is already stale for them and never answers.
 */
async function readRows(db: Executor, source: Source, lexicon: Map<string, number>): Promise<Gathering> {
  const reading: Gathering = {
    count: 0,
    ids: [],
    albums: source.album ? [] : undefined,
    text: [],
    textEnd: new Ints(),
    titleLength: new Ints(),
    words: new Ints(),
    wordEnd: new Ints(),
  };
  let length = 0;
  const [size] = await rowsOf<{ pages: number }>(
    db,
    sql`select (pg_relation_size(${getTableName(source.table)}::regclass) / current_setting('block_size')::int)::int as pages`,
  );
  for (let page = 0; page <= (size?.pages ?? 0); page += BUILD_PAGES) {
    const batch = await rowsOf<ReadRow>(
      db,
      sql`select ${source.table.id}::text as key, ${source.album ?? sql`null`}::text as album,
                 ${source.title} as title, ${source.artistName ?? sql`null`} as artist_name,
                 array_to_string(tsvector_to_array(${source.table.searchVector}), ' ') as words
            from ${source.table}
           where ${source.listed}
             and ctid >= ${`(${page},0)`}::tid and ctid < ${`(${page + BUILD_PAGES},0)`}::tid`,
    );
    const ids = Buffer.alloc(16 * batch.length);
    const albumIds = reading.albums && Buffer.alloc(16 * batch.length);
    const texts: string[] = [];
    batch.forEach((row, i) => {
      ids.write(row.key.replaceAll('-', ''), 16 * i, 16, 'hex');
      albumIds?.write(row.album!.replaceAll('-', ''), 16 * i, 16, 'hex');
      const text = row.artist_name === null ? row.title : `${row.title} ${row.artist_name}`;
      texts.push(text);
      length += text.length;
      reading.textEnd.push(length);
      reading.titleLength.push(row.title.length);
      if (row.words) for (const word of row.words.split(' ')) reading.words.push(wordId(lexicon, word));
      reading.wordEnd.push(reading.words.length);
    });
    reading.ids.push(ids);
    if (albumIds) reading.albums!.push(albumIds);
    reading.text.push(texts.join(''));
    reading.count += batch.length;
    if (reading.count > INDEX_MAX_ROWS) break;
  }
  return reading;
}

/**
 * Every listed row of every type, and the lexicon as read (what the worker assembles with
 * `assemble`); undefined when a type has too many.
 */
export async function readIndexData(
  db: Executor,
): Promise<{ words: string[]; readings: Record<IndexedType, Reading> } | undefined> {
  // Ids as read: the lexicon's words first, then any word a row has beyond them.
  const readIds = new Map<string, number>();
  for (const { word } of await rowsOf<{ word: string }>(db, sql`select word from catalog_search_words`)) {
    wordId(readIds, word);
  }
  const readings = {} as Record<IndexedType, Reading>;
  for (const type of INDEXED_TYPES) {
    const gathered = await readRows(db, SOURCES[type], readIds);
    if (gathered.count > INDEX_MAX_ROWS) return undefined;
    readings[type] = {
      ...gathered,
      textEnd: trimmed(gathered.textEnd),
      titleLength: trimmed(gathered.titleLength),
      words: trimmed(gathered.words),
      wordEnd: trimmed(gathered.wordEnd),
    };
    await breather();
  }
  return { words: [...readIds.keys()], readings };
}

/**
 * The memory of the readings' arrays, moved to the worker rather than copied (this thread drops
 * them): every typed array here owns its whole buffer, which is checked, since moving a buffer
 * shared with others (Node's pool of small buffers) would empty theirs too.
 */
function transferable(readings: Record<IndexedType, Reading>): ArrayBuffer[] {
  const arrays = Object.values(readings).flatMap((r) => [
    ...r.ids,
    ...(r.albums ?? []),
    r.textEnd,
    r.titleLength,
    r.words,
    r.wordEnd,
  ]);
  const owned = arrays.filter(
    (a) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer,
  );
  return [...new Set(owned.map((a) => a.buffer as ArrayBuffer))];
}

/**
 * The worker thread, started at the first build. From the sources (tests, `tsx`) it loads the
 * TypeScript through tsx; from a build, the compiled file beside this module or its bundle.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new Worker(new URL('./search-worker-tsx.mjs', here));
  const compiled = [new URL('./search-worker.js', here), new URL('../search-worker.js', here)].find((url) =>
    existsSync(url),
  );
  if (!compiled) throw new Error('search-worker.js is missing from the build');
  return new Worker(compiled);
}

/**
 * The worker and what waits on it. When it ends other than by `close` (a crash), `onEnd` hears
 * of it; the next build starts another.
 */
function workerClient(onEnd: (code: number | undefined) => void) {
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (message: FromWorker | undefined) => void>();
  const loads = new Map<number, (message: FromWorker | undefined) => void>();

  function ended() {
    worker = undefined;
    for (const settle of [...waiting.values(), ...loads.values()]) settle(undefined);
    waiting.clear();
    loads.clear();
  }

  /** Kept alive by the thread only while something waits on it, as an open socket would be. */
  function holdWhileWaiting() {
    if (waiting.size + loads.size) worker?.ref();
    else worker?.unref();
  }

  function running(): Worker {
    if (worker) return worker;
    const started = startWorker();
    started.on('message', (message: FromWorker) => {
      const settle = message.kind === 'loaded' || message.kind === 'failed' ? loads : waiting;
      const key = 'id' in message ? message.id : message.generation;
      settle.get(key)?.(message);
      settle.delete(key);
      holdWhileWaiting();
    });
    const end = (code?: number) => {
      if (worker !== started) return;
      ended();
      onEnd(code);
    };
    started.on('error', () => end());
    started.on('exit', end);
    worker = started;
    return started;
  }

  const ask = (pending: typeof waiting, key: number, message: ToWorker, transfer: ArrayBuffer[] = []) =>
    new Promise<FromWorker | undefined>((resolve) => {
      const thread = running();
      pending.set(key, resolve);
      holdWhileWaiting();
      thread.postMessage(message, transfer);
    });

  return {
    /** Hands the rows to the worker; resolves once it holds the index as `generation`. */
    async load(
      generation: number,
      data: NonNullable<Awaited<ReturnType<typeof readIndexData>>>,
      answersKept: number,
    ) {
      const message: ToWorker = { kind: 'load', generation, answersKept, ...data };
      const answer = await ask(loads, generation, message, transferable(data.readings));
      if (answer?.kind !== 'loaded') {
        throw new Error(answer?.kind === 'failed' ? answer.message : 'the search worker ended');
      }
    },
    /** The pages of `generation`'s index; undefined when the worker no longer holds it or ended. */
    async search(generation: number, query: IndexedSearch, types: IndexedType[]) {
      if (!worker) return undefined;
      const id = nextId++;
      const answer = await ask(waiting, id, { kind: 'search', id, generation, query, types });
      if (answer?.kind === 'error') throw new Error(answer.message);
      return answer?.kind === 'pages' ? (answer.pages ?? undefined) : undefined;
    },
    async close() {
      const closing = worker;
      ended();
      await closing?.terminate();
    },
  };
}

export interface SearchIndexOptions {
  now?: () => number;
  /** Pages kept, of any type (0: none, to measure the search itself). */
  answersKept?: number;
  /** Where builds and a failing worker are reported. */
  log?: Pick<FastifyBaseLogger, 'info' | 'warn'>;
}

export function createSearchIndex(
  db: Executor,
  cache: Cache,
  { now = Date.now, answersKept = ANSWERS_KEPT, log }: SearchIndexOptions = {},
): SearchIndex {
  const worker = workerClient((code) =>
    log?.warn({ code }, 'search index worker ended: searches use the database until the next build'),
  );
  let generations = 0;
  const copy = memoryCopy(
    cache,
    [SEARCH_TAG],
    async (): Promise<number | undefined> => {
      const started = performance.now();
      try {
        const data = await readIndexData(db);
        if (!data) return undefined;
        const generation = ++generations;
        await worker.load(generation, data, answersKept);
        const rows = Object.fromEntries(INDEXED_TYPES.map((type) => [type, data.readings[type].count]));
        log?.info({ rows, ms: Math.round(performance.now() - started) }, 'search index built');
        return generation;
      } catch (error) {
        log?.warn({ err: error }, 'search index build failed: searches use the database');
        throw error;
      }
    },
    { now, lifetimeMs: Math.max(cache.defaultTtlSec * 1000, INDEX_LIFETIME_MS) },
  );
  return {
    at(stamp) {
      const generation = copy.at(stamp);
      if (generation === undefined) return undefined;
      return (query, types) => worker.search(generation, query, types);
    },
    refresh: () => copy.refresh(),
    get builds() {
      return copy.builds;
    },
    close: () => worker.close(),
  };
}
