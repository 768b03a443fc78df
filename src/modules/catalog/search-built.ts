import type { LRUCache } from 'lru-cache';
import { MAX_QUERY_WORDS, NEAR_MIN_LENGTH, SEARCH_CANDIDATES, SIMILAR_WORDS } from './search-limits.js';
import { uniqueTrigramCodes, wordSimilarityTo } from './trigrams.js';

// ---------------------------------------------------------------------------------------------
// The search index's data and its search, without the database: what search-index.ts reads
// from the database is assembled here, in the index's worker thread (search-worker.ts), which
// then answers the searches. See search-index.ts for what the index answers and when.

/** Rows handled between two turns of the event loop while building. */
const BUILD_SLICE = 50_000;

/** The threshold of pg_trgm's `%` (its default `pg_trgm.similarity_threshold`). */
const SIMILARITY_THRESHOLD = 0.3;

export type IndexedType = 'artist' | 'album' | 'song';
export const INDEXED_TYPES: readonly IndexedType[] = ['artist', 'album', 'song'];

/** The lexicon: every word of every name (`catalog_search_words`, plus any a row has beyond it). */
interface Lexicon {
  /** Sorted (code unit order): the words with a prefix are a range of ids. */
  words: string[];
  idOf: Map<string, number>;
  /** Unique trigrams per word, and the words having each trigram. */
  trigramCount: Uint16Array;
  byTrigram: Map<number, Int32Array>;
  /** Words of three letters or more by each of their spellings with one letter deleted. */
  byDelete: Map<string, number | number[]>;
  /**
   * Scratch of a search, one entry per word, all zero between searches (searches are
   * synchronous): trigrams shared with a query word, similarity to it, the query words a word
   * stands for (bit i: query word i), and the words touched.
   */
  scratch: { shared: Uint16Array; similarity: Float32Array; bits: Uint8Array; touched: Int32Array };
}

/** The listed rows of one type, in id order (a row's index is its place in that order). */
interface Rows {
  count: number;
  /** Row i's id: 16 bytes from 16 * i. */
  ids: Buffer;
  /** Songs: row i's album's id, likewise (what a cached view of the song depends on). */
  albums: Buffer | undefined;
  /** The names searched, one after another (in the order read): row i's is `text.slice(start[i], end[i])`. */
  text: string;
  start: Int32Array;
  end: Int32Array;
  /** Where the title ends in the row's text (title, a space, the artist's name); artists: the end. */
  titleEnd: Int32Array;
  /** Row i's word ids: `words[wordStart[i]..wordStart[i + 1])`. */
  words: Int32Array;
  wordStart: Int32Array;
  /** The rows of word w, ascending: `postings[postingStart[w]..postingStart[w + 1])`. */
  postings: Int32Array;
  postingStart: Int32Array;
  /** Two scratch bitmaps of one bit per row, all zero between searches (see `candidatesOf`). */
  bitmaps: [Uint32Array, Uint32Array];
}

export interface Built {
  lexicon: Lexicon;
  rows: Record<IndexedType, Rows>;
}

export interface IndexedSearch {
  /** Lower-cased, single spaces (what the relevance order compares names with). */
  q: string;
  /** The query's words as the `simple` text search configuration spells them, sorted. */
  words: string[];
  limit: number;
  offset: number;
}

/**
 * A type's page: the ids of its rows in order, and the total (at most SEARCH_CANDIDATES); for
 * songs, each one's album id too.
 */
export interface IndexedPage {
  ids: string[];
  total: number;
  albumIds?: string[];
}

/**
 * A query's words when the database need not be asked for them: lower-case ASCII letters and
 * digits between single spaces, which the `simple` configuration keeps as they are; else
 * undefined (punctuation, accents: `to_tsvector` decides).
 */
export function plainQueryWords(q: string): string[] | undefined {
  if (!/^[a-z0-9]+( [a-z0-9]+)*$/.test(q)) return undefined;
  return [...new Set(q.split(' '))].sort().slice(0, MAX_QUERY_WORDS);
}

// ---------------------------------------------------------------------------------------------
// Building

/** Every lexicon word's one-letter deletions (as `catalog_word_deletes` spells them). */
const deletesOf = (chars: string[]): string[] =>
  chars.map((_, i) => chars.slice(0, i).join('') + chars.slice(i + 1).join(''));

function lexiconOf(words: string[]): Lexicon {
  words.sort();
  const idOf = new Map<string, number>();
  const trigramCount = new Uint16Array(words.length);
  const lists = new Map<number, number[]>();
  const byDelete = new Map<string, number | number[]>();
  words.forEach((word, id) => {
    idOf.set(word, id);
    const trigrams = uniqueTrigramCodes(word);
    trigramCount[id] = Math.min(trigrams.length, 0xffff);
    for (const t of trigrams) {
      const list = lists.get(t);
      if (list) list.push(id);
      else lists.set(t, [id]);
    }
    const chars = Array.from(word);
    if (chars.length < NEAR_MIN_LENGTH) return;
    for (const spelling of new Set(deletesOf(chars))) {
      const known = byDelete.get(spelling);
      if (known === undefined) byDelete.set(spelling, id);
      else if (typeof known === 'number') byDelete.set(spelling, [known, id]);
      else known.push(id);
    }
  });
  const byTrigram = new Map<number, Int32Array>();
  for (const [t, list] of lists) byTrigram.set(t, Int32Array.from(list));
  const n = words.length;
  const scratch = {
    shared: new Uint16Array(n),
    similarity: new Float32Array(n),
    bits: new Uint8Array(n),
    touched: new Int32Array(n),
  };
  return { words, idOf, trigramCount, byTrigram, byDelete, scratch };
}

/**
 * Rows of one type as read from the database (search-index.ts), in the table's order, compact
 * from the start (the words as ids of the lexicon as read): what is sent to the worker.
 */
export interface Reading {
  count: number;
  /** Row ids, 16 bytes each, batch by batch. */
  ids: Uint8Array[];
  /** Songs: their albums' ids, batch by batch as `ids`. */
  albums: Uint8Array[] | undefined;
  /** The rows' texts, joined per batch; `textEnd[i]`: where row i's ends in them all. */
  text: string[];
  textEnd: Int32Array;
  titleLength: Int32Array;
  words: Int32Array;
  /** Row i's words are `words[wordEnd[i - 1]..wordEnd[i])`. */
  wordEnd: Int32Array;
}

/** Lets the event loop turn between slices of a build's work. */
export const breather = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A stable counting sort of rows by the two bytes of their ids at `at`. */
function byDigit(order: Int32Array, ids: Buffer, at: number): Int32Array {
  const starts = new Int32Array(0x10001);
  for (let k = 0; k < order.length; k++) {
    const i = 16 * order[k]! + at;
    starts[((ids[i]! << 8) | ids[i + 1]!) + 1]!++;
  }
  for (let d = 1; d <= 0x10000; d++) starts[d]! += starts[d - 1]!;
  const sorted = new Int32Array(order.length);
  for (let k = 0; k < order.length; k++) {
    const i = 16 * order[k]! + at;
    sorted[starts[(ids[i]! << 8) | ids[i + 1]!]!++] = order[k]!;
  }
  return sorted;
}

/**
 * The rows' indexes in id order: a radix sort by the ids' bytes, two at a time from the last
 * (O(n); a comparison sort of a million ids took most of a second, and time-ordered ids share
 * their leading bytes by the thousand), a turn of the event loop between passes.
 */
async function idOrder(ids: Buffer): Promise<Int32Array> {
  let order: Int32Array = new Int32Array(ids.length / 16);
  for (let i = 0; i < order.length; i++) order[i] = i;
  for (let at = 14; at >= 0; at -= 2) {
    order = byDigit(order, ids, at);
    await breather();
  }
  return order;
}

/** The rows in id order, each word's rows, and words as ids of the sorted lexicon (`renumber`). */
async function rowsOfReading(reading: Reading, renumber: Int32Array, wordCount: number): Promise<Rows> {
  const read = Buffer.concat(reading.ids);
  const n = reading.count;
  const order = await idOrder(read);
  const ids = Buffer.alloc(16 * n);
  const readAlbums = reading.albums && Buffer.concat(reading.albums);
  const albums = readAlbums && Buffer.alloc(16 * n);
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  const titleEnd = new Int32Array(n);
  const { textEnd } = reading;
  const wordStart = new Int32Array(n + 1);
  const words = new Int32Array(reading.words.length);
  const postingStart = new Int32Array(wordCount + 1);
  const readWords = reading.words;
  const { wordEnd } = reading;
  for (let i = 0; i < n; i++) {
    const from = order[i]!;
    read.copy(ids, 16 * i, 16 * from, 16 * from + 16);
    if (albums) readAlbums!.copy(albums, 16 * i, 16 * from, 16 * from + 16);
    start[i] = from === 0 ? 0 : textEnd[from - 1]!;
    end[i] = textEnd[from]!;
    titleEnd[i] = start[i]! + reading.titleLength[from]!;
    let k = wordStart[i]!;
    for (let j = from === 0 ? 0 : wordEnd[from - 1]!; j < wordEnd[from]!; j++) {
      const id = renumber[readWords[j]!]!;
      words[k++] = id;
      postingStart[id + 1]!++;
    }
    wordStart[i + 1] = k;
    if (i % BUILD_SLICE === BUILD_SLICE - 1) await breather();
  }
  for (let w = 1; w <= wordCount; w++) postingStart[w]! += postingStart[w - 1]!;
  const postings = new Int32Array(words.length);
  const filled = postingStart.slice(0, -1);
  for (let i = 0; i < n; i++) {
    for (let k = wordStart[i]!; k < wordStart[i + 1]!; k++) postings[filled[words[k]!]!++] = i;
    if (i % BUILD_SLICE === BUILD_SLICE - 1) await breather();
  }
  const text = reading.text.join('');
  const bitmaps: Rows['bitmaps'] = [new Uint32Array((n >>> 5) + 1), new Uint32Array((n >>> 5) + 1)];
  return {
    count: n,
    ids,
    albums,
    text,
    start,
    end,
    titleEnd,
    words,
    wordStart,
    postings,
    postingStart,
    bitmaps,
  };
}

/**
 * The index from what was read: `words` are the lexicon as read (a word's id is its place),
 * the readings use those ids. The lexicon is sorted here and the rows' words renumbered.
 */
export async function assemble(words: string[], readings: Record<IndexedType, Reading>): Promise<Built> {
  const lexicon = lexiconOf([...words]);
  const renumber = new Int32Array(words.length);
  words.forEach((word, id) => {
    renumber[id] = lexicon.idOf.get(word)!;
  });
  const rows = {} as Record<IndexedType, Rows>;
  for (const type of INDEXED_TYPES) {
    await breather();
    rows[type] = await rowsOfReading(readings[type], renumber, lexicon.words.length);
  }
  return { lexicon, rows };
}

// ---------------------------------------------------------------------------------------------
// Searching

/** First index in `lo..hi` where `past` holds (it holds from some index on). */
function firstWhere(lo: number, hi: number, past: (i: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * pg_trgm's `similarity` (float4) to a query word of each lexicon word sharing a trigram with
 * it, into `scratch.similarity`; returns how many such words there are, their ids first in
 * `scratch.touched`. The caller zeroes those similarities when done with the word.
 */
function similarities(lexicon: Lexicon, queryTrigrams: number[]): number {
  const { shared, similarity, touched } = lexicon.scratch;
  let n = 0;
  for (const t of queryTrigrams) {
    const list = lexicon.byTrigram.get(t);
    if (!list) continue;
    for (let k = 0; k < list.length; k++) {
      const id = list[k]!;
      if (shared[id]!++ === 0) touched[n++] = id;
    }
  }
  for (let k = 0; k < n; k++) {
    const id = touched[k]!;
    const count = shared[id]!;
    similarity[id] = count / (queryTrigrams.length + lexicon.trigramCount[id]! - count);
    shared[id] = 0;
  }
  return n;
}

const distanceOf = (similarity: number) => Math.fround(1 - similarity);

/** The SIMILAR_WORDS nearest of `ids` to the word (by `<->`, then the word), as the lexicon query orders them. */
function nearest(ids: Iterable<number>, similarityOf: (id: number) => number): number[] {
  return [...ids]
    .map((id) => ({ id, distance: distanceOf(similarityOf(id)) }))
    .sort((a, b) => a.distance - b.distance || a.id - b.id)
    .slice(0, SIMILAR_WORDS)
    .map(({ id }) => id);
}

/**
 * The lexicon ids each query word stands for (see `searchQuery`, which builds the same as a
 * tsquery): its completions, its one-edit neighbours when it has none, its closest words.
 */
function alternativesOf(lexicon: Lexicon, words: string[]): number[][] {
  const { words: all } = lexicon;
  return words.map((word) => {
    const chars = Array.from(word);
    if (chars.length === 1 && words.length > 1) {
      const id = lexicon.idOf.get(word);
      return id === undefined ? [] : [id];
    }
    const lo = firstWhere(0, all.length, (i) => all[i]! >= word);
    const hi = firstWhere(lo, all.length, (i) => !all[i]!.startsWith(word));
    const ids = new Set<number>();
    for (let w = lo; w < hi; w++) ids.add(w);
    // Similar words are looked for from three letters on (`length(q.word) > 2`).
    if (chars.length <= 2) return [...ids];
    const { similarity, touched } = lexicon.scratch;
    const sharing = similarities(lexicon, uniqueTrigramCodes(word));
    const similarityOf = (id: number) => similarity[id]!;
    if (hi === lo && chars.length >= NEAR_MIN_LENGTH) {
      // One edit away: a word with a deletion in common, or one that is a deletion of it.
      const neighbours = new Set<number>();
      const spellings = deletesOf(chars);
      for (const spelling of [...spellings, word]) {
        const known = lexicon.byDelete.get(spelling);
        if (typeof known === 'number') neighbours.add(known);
        else if (known) for (const id of known) neighbours.add(id);
      }
      for (const spelling of spellings) {
        const id = lexicon.idOf.get(spelling);
        if (id !== undefined) neighbours.add(id);
      }
      for (const id of nearest(neighbours, similarityOf)) ids.add(id);
    }
    const close: number[] = [];
    for (let k = 0; k < sharing; k++) {
      const id = touched[k]!;
      if (similarity[id]! >= SIMILARITY_THRESHOLD && all[id] !== word) close.push(id);
    }
    for (const id of nearest(close, similarityOf)) ids.add(id);
    for (let k = 0; k < sharing; k++) similarity[touched[k]!] = 0;
    return [...ids];
  });
}

/**
 * The rows of `lists` (lexicon ids), ascending, each once, the first `limit` of them: a k-way
 * merge of the words' rows, which stops as soon as it has them.
 */
function firstRowsOf(rows: Rows, lists: number[], limit: number): number[] {
  const { postings, postingStart } = rows;
  const heap = lists
    .map((w) => ({ at: postingStart[w]!, end: postingStart[w + 1]! }))
    .filter((c) => c.at < c.end);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && postings[heap[l]!.at]! < postings[heap[m]!.at]!) m = l;
      if (r < heap.length && postings[heap[r]!.at]! < postings[heap[m]!.at]!) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  const found: number[] = [];
  let last = -1;
  while (heap.length && found.length < limit) {
    const top = heap[0]!;
    const row = postings[top.at]!;
    if (row !== last) found.push(row);
    last = row;
    top.at++;
    if (top.at === top.end) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    down(0);
  }
  return found;
}

const postingsOf = (rows: Rows, lists: number[]) =>
  lists.reduce((sum, w) => sum + rows.postingStart[w + 1]! - rows.postingStart[w]!, 0);

/** Where a search is in each of some posting lists: `at[k]` runs to `end[k]`. */
interface Cursors {
  at: Int32Array;
  end: Int32Array;
}

function cursorsOf(rows: Rows, lists: number[]): Cursors {
  return {
    at: Int32Array.from(lists, (w) => rows.postingStart[w]!),
    end: Int32Array.from(lists, (w) => rows.postingStart[w + 1]!),
  };
}

/** The lowest row the cursors have left, or -1 when they have none. */
function nextRow(postings: Int32Array, { at, end }: Cursors): number {
  let lowest = -1;
  for (let k = 0; k < at.length; k++) {
    if (at[k]! < end[k]! && (lowest < 0 || postings[at[k]!]! < lowest)) lowest = postings[at[k]!]!;
  }
  return lowest;
}

/** Moves the cursors past the rows below `row` without looking at them (a binary search each). */
function skipTo(postings: Int32Array, { at, end }: Cursors, row: number): void {
  for (let k = 0; k < at.length; k++) {
    let lo = at[k]!;
    let hi = end[k]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (postings[mid]! < row) lo = mid + 1;
      else hi = mid;
    }
    at[k] = lo;
  }
}

/** Sets the bits (one per row) of the cursors' rows below `below` in `bitmap`, moving past them. */
function markBelow(postings: Int32Array, { at, end }: Cursors, below: number, bitmap: Uint32Array): void {
  for (let k = 0; k < at.length; k++) {
    let i = at[k]!;
    const stop = end[k]!;
    for (; i < stop; i++) {
      const row = postings[i]!;
      if (row >= below) break;
      bitmap[row >>> 5]! |= 1 << (row & 31);
    }
    at[k] = i;
  }
}

/** Bitmap words (of 32 rows) per stretch of the intersection (see `candidatesOf`): 32,768 rows. */
const STRETCH_WORDS = 1024;

/**
 * The first SEARCH_CANDIDATES rows (in id order) having, for every query word, one of the words
 * it stands for (`lists`: lexicon ids per query word; `bits[w]`: the query words lexicon word w
 * stands for; `all`: every bit).
 * One query word: its rows, merged in order until there are enough. Several: the rows of the
 * two rarest, stretch by stretch of rows in id order, as two bitmaps (one bit per row)
 * intersected and read in order, until there are enough: common words stop early, and a
 * stretch where either has no row is skipped. A row they share is checked against the other
 * query words through its own words.
 */
function candidatesOf(rows: Rows, lists: number[][], bits: Uint8Array, all: number): number[] {
  if (!lists.length) return [];
  if (lists.length === 1) return firstRowsOf(rows, lists[0]!, SEARCH_CANDIDATES);
  const bySize = lists.map((ids) => ({ ids, size: postingsOf(rows, ids) })).sort((a, b) => a.size - b.size);
  const { postings } = rows;
  const [rarest, next] = rows.bitmaps;
  const a = cursorsOf(rows, bySize[0]!.ids);
  const b = cursorsOf(rows, bySize[1]!.ids);
  const found: number[] = [];
  while (found.length < SEARCH_CANDIDATES) {
    // Neither word has a row below the later of their next rows: the stretch starts at its word.
    const nextA = nextRow(postings, a);
    const nextB = nextRow(postings, b);
    if (nextA < 0 || nextB < 0) break;
    const first = Math.max(nextA, nextB) >>> 5;
    skipTo(postings, a, first << 5);
    skipTo(postings, b, first << 5);
    const last = Math.min(first + STRETCH_WORDS, rarest.length);
    markBelow(postings, a, last << 5, rarest);
    markBelow(postings, b, last << 5, next);
    takeShared(rows, first, last, lists.length > 2 ? { bits, all } : undefined, found);
  }
  return found;
}

/**
 * Moves the rows marked in both bitmaps between words `first` and `last` into `found`, in
 * order, until it has SEARCH_CANDIDATES; `check`: each must also have every query word through
 * its own words. Clears those words of both bitmaps.
 */
function takeShared(
  rows: Rows,
  first: number,
  last: number,
  check: { bits: Uint8Array; all: number } | undefined,
  found: number[],
): void {
  const [rarest, next] = rows.bitmaps;
  for (let i = first; i < last; i++) {
    let both = rarest[i]! & next[i]!;
    rarest[i] = 0;
    next[i] = 0;
    while (both !== 0 && found.length < SEARCH_CANDIDATES) {
      const bit = 31 - Math.clz32(both & -both);
      both &= both - 1;
      const row = (i << 5) | bit;
      if (!check || hasEveryWord(rows, row, check.bits, check.all)) found.push(row);
    }
  }
}

/** Whether the row's own words stand for every query word (`bits[w]`: the query words of word w). */
function hasEveryWord(rows: Rows, row: number, bits: Uint8Array, all: number): boolean {
  const { words, wordStart } = rows;
  let has = 0;
  for (let j = wordStart[row]!; j < wordStart[row + 1]!; j++) has |= bits[words[j]!]!;
  return has === all;
}

const HEX_DIGITS = new TextEncoder().encode('0123456789abcdef');
const uuidText = Buffer.alloc(36);

/**
 * Row i's id as text, written in one piece: pieces joined are a rope in V8, which kept for the
 * life of a remembered answer weighs 370 bytes per id instead of 56, and took three times as long.
 */
function uuidAt(ids: Buffer, i: number): string {
  let at = 0;
  for (let k = 16 * i; k < 16 * i + 16; k++) {
    if (at === 8 || at === 13 || at === 18 || at === 23) uuidText[at++] = 0x2d;
    uuidText[at++] = HEX_DIGITS[ids[k]! >>> 4]!;
    uuidText[at++] = HEX_DIGITS[ids[k]! & 15]!;
  }
  return uuidText.toString('latin1');
}

/**
 * 0 when the name `text[from, to)` lower-cased is `q`, 1 when it starts with `q`, else 2 (see
 * `relevanceOrder`). ASCII is compared in place; a name with other characters where it matters
 * is lowered as a string, as the database lowers it.
 */
function tierOfName(text: string, from: number, to: number, q: string): number {
  if (to - from < q.length) return 2;
  let i = 0;
  for (; i < q.length; i++) {
    const c = text.charCodeAt(from + i);
    if (c > 0x7f) break;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== q.charCodeAt(i)) return 2;
  }
  if (i === q.length) {
    if (to - from === q.length) return 0;
    // A longer name whose rest is ASCII lowers to something longer than `q`: a prefix. With
    // other characters in the rest, the string decides.
    let ascii = true;
    for (let k = from + i; k < to && ascii; k++) ascii = text.charCodeAt(k) <= 0x7f;
    if (ascii) return 1;
  }
  const name = text.slice(from, to);
  const head = name.slice(0, q.length + 1).toLowerCase();
  if (!head.startsWith(q)) return 2;
  return name.toLowerCase() === q ? 0 : 1;
}

/**
 * The first `wanted` of the candidates ranked as `relevanceOrder` does: exact name, prefix, word
 * similarity, id. A page is a few of hundreds of candidates: they are picked in one pass (most
 * rank below the last picked, one comparison each) rather than all sorted.
 */
function ranked(rows: Rows, candidates: number[], q: string, artists: boolean, wanted: number): number[] {
  const similarityTo = wordSimilarityTo(q);
  const { text, start, end, titleEnd } = rows;
  const m = candidates.length;
  const tier = new Uint8Array(m);
  const similarity = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const row = candidates[i]!;
    const from = start[row]!;
    const to = end[row]!;
    // An artist's text is its name; an album's or song's is its title, a space, the artist's name.
    tier[i] = artists
      ? tierOfName(text, from, to, q)
      : Math.min(tierOfName(text, from, titleEnd[row]!, q), tierOfName(text, titleEnd[row]! + 1, to, q));
    similarity[i] = similarityTo(text, from, to);
  }
  // Candidates are in id order: among equals, the lower index is the lower id.
  const before = (a: number, b: number) => tier[a]! - tier[b]! || similarity[b]! - similarity[a]! || a - b;
  if (wanted * 4 >= m) {
    const order = Array.from({ length: m }, (_, i) => i).sort(before);
    return order.slice(0, wanted).map((i) => candidates[i]!);
  }
  const best: number[] = [];
  for (let i = 0; i < m; i++) {
    if (best.length === wanted && before(i, best[wanted - 1]!) > 0) continue;
    let at = best.length;
    while (at > 0 && before(i, best[at - 1]!) < 0) at--;
    best.splice(at, 0, i);
    if (best.length > wanted) best.pop();
  }
  return best.map((i) => candidates[i]!);
}

export function searchBuilt(
  built: Built,
  query: IndexedSearch,
  types: IndexedType[],
): Map<IndexedType, IndexedPage> {
  const lists = alternativesOf(built.lexicon, query.words);
  const { bits } = built.lexicon.scratch;
  lists.forEach((ids, i) => {
    for (const w of ids) bits[w]! |= 1 << i;
  });
  const all = (1 << lists.length) - 1;
  const pages = new Map<IndexedType, IndexedPage>();
  try {
    for (const type of types) {
      const rows = built.rows[type];
      const candidates = candidatesOf(rows, lists, bits, all);
      const order =
        query.offset < candidates.length
          ? ranked(rows, candidates, query.q, type === 'artist', query.offset + query.limit)
          : [];
      const page = order.slice(query.offset, query.offset + query.limit);
      pages.set(type, {
        ids: page.map((row) => uuidAt(rows.ids, row)),
        total: candidates.length,
        ...(rows.albums && { albumIds: page.map((row) => uuidAt(rows.albums!, row)) }),
      });
    }
  } finally {
    for (const ids of lists) for (const w of ids) bits[w] = 0;
  }
  return pages;
}

/** An index with the pages it has answered: they go with it, so a rebuild starts with none. */
export interface Held {
  built: Built;
  answers: LRUCache<string, IndexedPage>;
}

/** `searchBuilt`, for the types whose page for this query the index has not answered yet. */
export function searchRemembered(
  { built, answers }: Held,
  query: IndexedSearch,
  types: IndexedType[],
): Map<IndexedType, IndexedPage> {
  const keyOf = (type: IndexedType) => `${type} ${query.offset} ${query.limit} ${query.q}`;
  const pages = new Map<IndexedType, IndexedPage>();
  const missed: IndexedType[] = [];
  for (const type of types) {
    const page = answers.get(keyOf(type));
    if (page) pages.set(type, page);
    else missed.push(type);
  }
  if (missed.length) {
    for (const [type, page] of searchBuilt(built, query, missed)) {
      answers.set(keyOf(type), page);
      pages.set(type, page);
    }
  }
  return pages;
}
