/**
 * pg_trgm's `similarity(a, b)` and `word_similarity(q, text)` in JavaScript, returning the very
 * float4 values PostgreSQL returns, so that sorting by them here gives PostgreSQL's
 * `ORDER BY similarity(...)` order, ties included. Checked against the database by
 * trigrams.test.ts.
 *
 * Trigrams, as pg_trgm makes them (UTF-8 database, a libc locale such as C.UTF-8):
 * - a word is a maximal run of alphanumeric characters (the locale's `iswalnum`: letters, letter
 *   numbers like `Ⅻ`, decimal digits of any script, and the marks Unicode counts as alphabetic;
 *   not `²`, `½`, `_`, punctuation, symbols or emoji), lower-cased one character at a time
 *   (`towlower`: simple case mapping, so `İ` becomes `i` and a final `Σ` becomes `σ`);
 * - a word is padded as `"  word "` and each window of three characters is a trigram, in order,
 *   word after word, duplicates kept (`"a"` gives `"  a"` and `" a "`).
 *
 * A trigram's identity is the three bytes PostgreSQL stores for it, here as a number below 2^24
 * (`byte0 << 16 | byte1 << 8 | byte2`, as `show_trgm` prints it): the three bytes themselves
 * when the three characters are ASCII, and otherwise three bytes of a CRC-32 of their UTF-8
 * bytes (PostgreSQL's "legacy" variant: the reflected table driven MSB-first, the low three
 * bytes in little-endian memory order, as on x86-64 and WebAssembly). So two trigrams are the
 * same here exactly when PostgreSQL takes them for the same, even in the rare case where two
 * different non-ASCII trigrams share a hash.
 *
 * Where this can differ from PostgreSQL: what a letter is and how it lower-cases come from
 * PostgreSQL's C library, here from Node's Unicode tables. Compared over every code point, they
 * agree with PostgreSQL 15 on glibc 2.36 (C.UTF-8) except for letters and marks of Unicode 16
 * and later, which Node knows and glibc 2.36 does not; PGlite's musl also lacks some letters of
 * Unicode 13 to 15 (among them Thai ฯ and ๆ), does not lower-case circled letters (Ⓐ), and
 * counts a few thousand CJK code points of planes 2 and 3 that glibc does not. A database whose
 * LC_CTYPE is plain `C` counts ASCII letters and digits only; this module assumes a UTF-8 one.
 */

/** A character of no word. */
const NOT_WORD = -1;
const SPACE = 0x20;

// Letters (any Alphabetic character, which takes in letter numbers and the alphabetic marks) and
// decimal digits: what glibc's and musl's `iswalnum` answer true for (as far as their Unicode goes).
const WORD_CHAR = /^[\p{Alphabetic}\p{Nd}]$/u;

/**
 * What a character becomes in a word: its lower-case form (one code point), or NOT_WORD.
 * Cached per code point: 0 for not looked at yet, else the answer + 2.
 */
const bmpChars = new Int32Array(0x10000);
const astralChars = new Map<number, number>();

function lookUpChar(cp: number): number {
  const char = String.fromCodePoint(cp);
  if (!WORD_CHAR.test(char)) return NOT_WORD;
  // `toLowerCase` applies the full mappings; the C library maps one character to one. The only
  // unconditional full mapping to several characters is U+0130 (İ -> i + U+0307), which
  // `towlower` maps to plain `i`; a lone `Σ` is lowered to `σ` (no final-sigma context here).
  if (cp === 0x130) return 0x69;
  const lower = char.toLowerCase();
  const first = lower.codePointAt(0)!;
  return lower.length === (first > 0xffff ? 2 : 1) ? first : cp;
}

function wordChar(cp: number): number {
  if (cp < 0x10000) {
    const cached = bmpChars[cp]!;
    if (cached !== 0) return cached - 2;
    const answer = lookUpChar(cp);
    bmpChars[cp] = answer + 2;
    return answer;
  }
  let answer = astralChars.get(cp);
  if (answer === undefined) {
    answer = lookUpChar(cp);
    astralChars.set(cp, answer);
  }
  return answer;
}

for (let cp = 0; cp < 0x80; cp++) {
  const ascii =
    (cp >= 0x30 && cp <= 0x39) || (cp >= 0x61 && cp <= 0x7a)
      ? cp
      : cp >= 0x41 && cp <= 0x5a
        ? cp + 0x20
        : NOT_WORD;
  bmpChars[cp] = ascii + 2;
}

/** CRC-32 table of the reflected polynomial 0xEDB88320. */
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** One byte into the CRC, shifting left (this is what makes PostgreSQL's variant "legacy"). */
const crcByte = (crc: number, byte: number) => CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]! ^ (crc << 8);

/** The UTF-8 bytes of one code point into the CRC. */
function crcChar(crc: number, cp: number): number {
  if (cp < 0x80) return crcByte(crc, cp);
  if (cp < 0x800) return crcByte(crcByte(crc, 0xc0 | (cp >> 6)), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    crc = crcByte(crc, 0xe0 | (cp >> 12));
    crc = crcByte(crc, 0x80 | ((cp >> 6) & 0x3f));
    return crcByte(crc, 0x80 | (cp & 0x3f));
  }
  crc = crcByte(crc, 0xf0 | (cp >> 18));
  crc = crcByte(crc, 0x80 | ((cp >> 12) & 0x3f));
  crc = crcByte(crc, 0x80 | ((cp >> 6) & 0x3f));
  return crcByte(crc, 0x80 | (cp & 0x3f));
}

/** The identity of the trigram of three (lower-cased) code points. */
function trigramCode(a: number, b: number, c: number): number {
  if ((a | b | c) < 0x80) return (a << 16) | (b << 8) | c;
  const crc = ~crcChar(crcChar(crcChar(-1, a), b), c);
  // The first three bytes of the 32-bit value in little-endian memory: its low three bytes.
  return ((crc & 0xff) << 16) | (crc & 0xff00) | ((crc >>> 16) & 0xff);
}

/** Scratch buffers, grown on demand and reused (all the functions below are synchronous). */
let codes = new Int32Array(256);
let otherCodes = new Int32Array(256);

/** Room for the trigrams of a string of `length` UTF-16 units (a word of n gives n + 1). */
const capacity = (length: number) => length * 2 + 2;

/**
 * Writes the trigrams of `text` (of its units `from` to `to`) into `out` (which has room for
 * them), in order; returns their count.
 */
function extract(text: string, out: Int32Array, from = 0, to = text.length): number {
  let n = 0;
  let first = SPACE;
  let second = SPACE;
  let inWord = false;
  for (let i = from; i < to; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < to) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    const c = cp < 0x80 ? bmpChars[cp]! - 2 : wordChar(cp);
    if (c === NOT_WORD) {
      if (inWord) {
        out[n++] = trigramCode(first, second, SPACE);
        inWord = false;
        first = SPACE;
        second = SPACE;
      }
      continue;
    }
    inWord = true;
    out[n++] = trigramCode(first, second, c);
    first = second;
    second = c;
  }
  if (inWord) out[n++] = trigramCode(first, second, SPACE);
  return n;
}

/** The trigrams of `text` (units `from` to `to`) in the `codes` scratch buffer; returns their count. */
function extractToScratch(text: string, from = 0, to = text.length): number {
  if (codes.length < capacity(to - from)) codes = new Int32Array(capacity(to - from) * 2);
  return extract(text, codes, from, to);
}

/** Sorts `buffer[0, n)` and keeps each value once at its start; returns how many. */
function sortUnique(buffer: Int32Array, n: number): number {
  if (n < 2) return n;
  if (n <= 64) {
    // Insertion sort: for a title's few dozen trigrams, faster than a typed array's sort().
    for (let i = 1; i < n; i++) {
      const value = buffer[i]!;
      let j = i - 1;
      while (j >= 0 && buffer[j]! > value) {
        buffer[j + 1] = buffer[j]!;
        j--;
      }
      buffer[j + 1] = value;
    }
  } else buffer.subarray(0, n).sort();
  let m = 1;
  for (let i = 1; i < n; i++) if (buffer[i] !== buffer[m - 1]) buffer[m++] = buffer[i]!;
  return m;
}

function copyOut(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(codes[i]!);
  return out;
}

/** The trigram identities of `text`, in order, duplicates kept. */
export function trigramCodes(text: string): number[] {
  return copyOut(extractToScratch(text));
}

/** The set of trigram identities of `text`, ascending, each once. */
export function uniqueTrigramCodes(text: string): number[] {
  return copyOut(sortUnique(codes, extractToScratch(text)));
}

/** pg_trgm's `similarity(a, b)`: shared trigrams over all the distinct trigrams of both, as float4. */
export function similarity(a: string, b: string): number {
  const lengthA = sortUnique(codes, extractToScratch(a));
  if (lengthA === 0) return 0;
  if (otherCodes.length < capacity(b.length)) otherCodes = new Int32Array(capacity(b.length) * 2);
  const lengthB = sortUnique(otherCodes, extract(b, otherCodes));
  if (lengthB === 0) return 0;
  let shared = 0;
  let i = 0;
  let j = 0;
  while (i < lengthA && j < lengthB) {
    const x = codes[i]!;
    const y = otherCodes[j]!;
    if (x < y) i++;
    else if (x > y) j++;
    else {
      shared++;
      i++;
      j++;
    }
  }
  return Math.fround(shared / (lengthA + lengthB - shared));
}

/**
 * Scratch of a prepared word similarity. Each call numbers the trigrams it meets: q's trigrams
 * 0 .. ulen1 - 1 (their index in q's sorted set), any other from ulen1 on, the same number for
 * the same trigram. The numbering is an open-addressing hash table whose slots hold
 * `stamp * 2^24 + code` (a code is below 2^24): a slot written by an earlier call has a smaller
 * stamp, so nothing is cleared between calls.
 */
const STAMP = 0x1000000;
let slotTags = new Float64Array(256);
let slotNumbers = new Int32Array(256);
let slotShift = 24; // 32 - log2(table size)
let stamp = 0;
/** Per position in the text's trigram list, its trigram's number. */
let numbers = new Int32Array(256);
/** Per number, the last position its trigram was seen at in the current stretch, or -1. */
let lastSeen = new Int32Array(256);

/** Fits the scratch to `trigrams` distinct trigrams at most, and starts a new stamp. */
function fitScratch(trigrams: number): number {
  if (numbers.length < trigrams) numbers = new Int32Array(trigrams * 2);
  if (lastSeen.length < trigrams) lastSeen = new Int32Array(trigrams * 2);
  if (slotTags.length < trigrams * 2) {
    let size = slotTags.length;
    while (size < trigrams * 2) size *= 2;
    slotTags = new Float64Array(size);
    slotNumbers = new Int32Array(size);
    slotShift = 32 - Math.log2(size);
  }
  if (++stamp === 2 ** 28) {
    slotTags.fill(0);
    stamp = 1;
  }
  return stamp * STAMP;
}

const slotOf = (code: number) => Math.imul(code, 0x9e3779b1) >>> slotShift;

/** The similarity PostgreSQL computes (CALCSML), in float4 as it does. */
const ratio = (shared: number, ulen1: number, ulen2: number) =>
  Math.fround(shared / (ulen1 + ulen2 - shared));

/**
 * pg_trgm's `word_similarity(q, text)` for one `q` against many texts. It is the greatest
 * similarity between q's trigrams and those of a stretch of the text's trigram list, found
 * the way PostgreSQL finds it (its greedy scan is not an exhaustive search, so the exact steps
 * matter): the stretch ends at each trigram of q met in turn, and its start moves right while
 * that raises the similarity. The text may be a part of a longer string (units `from` to `to`),
 * which spares the caller a copy.
 */
export function wordSimilarityTo(q: string): (text: string, from?: number, to?: number) => number {
  const queryCodes = Int32Array.from(uniqueTrigramCodes(q));
  const ulen1 = queryCodes.length;
  if (ulen1 === 0) return () => 0;

  return (text: string, from = 0, to = text.length): number => {
    const len2 = extractToScratch(text, from, to);
    const base = fitScratch(len2 + ulen1);
    const mask = slotTags.length - 1;
    for (let k = 0; k < ulen1; k++) {
      let slot = slotOf(queryCodes[k]!);
      while (slotTags[slot]! >= base) slot = (slot + 1) & mask;
      slotTags[slot] = base + queryCodes[k]!;
      slotNumbers[slot] = k;
      lastSeen[k] = -1;
    }
    let next = ulen1;

    // The stretch [lower, upper] of the list: ulen2 distinct trigrams, `shared` of them q's.
    // Nothing is counted before the first trigram of q.
    let lower = -1;
    let ulen2 = 0;
    let shared = 0;
    let best = 0;
    for (let upper = 0; upper < len2; upper++) {
      const code = codes[upper]!;
      const tag = base + code;
      let slot = slotOf(code);
      let found = slotTags[slot]!;
      while (found !== tag && found >= base) {
        slot = (slot + 1) & mask;
        found = slotTags[slot]!;
      }
      let number: number;
      if (found === tag) number = slotNumbers[slot]!;
      else if (lower < 0) {
        continue; // neither q's nor in a stretch yet: never looked at again
      } else {
        slotTags[slot] = tag;
        slotNumbers[slot] = number = next++;
        lastSeen[number] = -1;
      }
      numbers[upper] = number;
      const ofQuery = number < ulen1;
      if (lastSeen[number]! < 0) {
        ulen2++;
        if (ofQuery) shared++;
      }
      lastSeen[number] = upper;
      if (!ofQuery) continue;
      if (lower === -1) {
        lower = upper;
        ulen2 = 1;
      }
      let current = ratio(shared, ulen1, ulen2);
      // Try each later start: a trigram leaves the stretch when its last sighting is passed.
      const previousLower = lower;
      let tryShared = shared;
      let tryUlen2 = ulen2;
      for (let start = previousLower; start <= upper; start++) {
        // A stretch sharing s trigrams has at least s, so it scores at most ratio(s, ulen1, s);
        // tryShared only falls as the start moves right: once that cannot beat `current`, stop.
        if (ratio(tryShared, ulen1, tryShared) <= current) break;
        const candidate = ratio(tryShared, ulen1, tryUlen2);
        if (candidate > current) {
          current = candidate;
          lower = start;
          ulen2 = tryUlen2;
          shared = tryShared;
        }
        const leaving = numbers[start]!;
        if (lastSeen[leaving] === start) {
          tryUlen2--;
          if (leaving < ulen1) tryShared--;
        }
      }
      // Trigrams last seen before the new start are out of the stretch: forget them.
      for (let start = previousLower; start < lower; start++) {
        const leaving = numbers[start]!;
        if (lastSeen[leaving] === start) lastSeen[leaving] = -1;
      }
      if (current > best) {
        best = current;
        if (best === 1) break; // the most there is: all of q's trigrams and nothing else
      }
    }
    return best;
  };
}

/** pg_trgm's `word_similarity(q, text)` (float4): how well q matches some part of text. */
export function wordSimilarity(q: string, text: string): number {
  return wordSimilarityTo(q)(text);
}
