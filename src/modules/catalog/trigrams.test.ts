import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers.js';
import { rowsOf, sqlArray } from '../../platform/db.js';
import {
  similarity,
  trigramCodes,
  uniqueTrigramCodes,
  wordSimilarity,
  wordSimilarityTo,
} from './trigrams.js';

/**
 * trigrams.ts against pg_trgm itself, on the test database (PGlite, or PostgreSQL with
 * TEST_DATABASE_URL): the same float4 for every pair, the same trigrams for every string.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t?.close());

/** Deterministic pseudo-random numbers (mulberry32). */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

/** The words of `text`, split at `separator`. */
const list = (text: string, separator: RegExp = /\s+/) => text.trim().split(separator);

const LATIN =
  list(`love lover loves night nights rock roll radio radiohead head queen moon dark side the of a i o
  la land blue black sabbath heart heartbreak hotel california dream dreams street spirit teen nirvana never
  mind yesterday sun sunshine rain purple stairway heaven highway hell bohemian rhapsody thunderstruck
  thunder jude imagine wonderwall creep karma paranoid android together one remaster remastered live edit
  remix feat vol ii mmxx x op bwv symphony concerto mississippi aaa banana abab`);
const ACCENTED =
  list(`björk sigur rós motörhead mötley crüe beyoncé café hoppípolla ágætis byrjun niña canción
  corazón señor françoise garçon déjà über straße ærø øresund œuvre İstanbul ıslak łódź dvořák şarkı việt
  đêm Ⅻ ＡＢＣ ﬁne ǅemal ǈubav`);
const OTHER_SCRIPTS = list(`любовь кино группа крови звезда ΣΟΦΙΑ ΟΔΥΣΣΕΥΣ μουσική σοφία 東京 音楽 さくら
  ありがとう カタカナ 사랑 방탄소년단 노래 שלום موسيقى حبيبي संगीत प्यार เพลง ქართული Հայերեն 𠀋𠀌 𝐁𝐨𝐥𝐝 x² ½
  ٣٤٥ १२३`);
const PUNCTUATED = [
  ...list(
    `ac/dc | AC/DC | rock-n-roll | don't | guns n' roses | p!nk | a-ha | r.e.m. | n.w.a | t.a.t.u. | (live)
     | [remix] | — | ... | !!! | _ | snake_case | mr. brightside | 50/50 | 3.14 | 2011 | 1999 | 99 | 7 | 😀
     | ♥ | & | +44 | #1`,
    /\s*\|\s*/,
  ),
  '\t',
  ' ',
  '  ',
];
const VOCABULARY = [...LATIN, ...LATIN, ...ACCENTED, ...OTHER_SCRIPTS, ...PUNCTUATED];

/** A few thousand (q, text) pairs: the cases where the scan's details show, and random ones. */
function pairs(): [string, string][] {
  const { next, int, pick } = generator(20_240_611);
  const phrase = (words: number) =>
    Array.from({ length: words }, () => pick(VOCABULARY)).join(pick([' ', ' ', ' - ', ', ', '/']));
  const letters = 'abcdeilmnorstuyöé';
  const typo = (word: string) => {
    const chars = [...word];
    const at = int(chars.length + 1);
    switch (int(4)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, pick([...letters]));
        break;
      case 2:
        chars.splice(at, 1, pick([...letters]));
        break;
      default:
        if (chars.length > 1) {
          const i = Math.min(at, chars.length - 2);
          [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
        }
    }
    return chars.join('');
  };
  const recase = (s: string) => pick([s, s.toUpperCase(), s.replace(/^./u, (c) => c.toUpperCase())]);
  const result: [string, string][] = [
    ['', ''],
    ['', 'radiohead'],
    ['radiohead', ''],
    ['...', 'radiohead'],
    ['radiohead', '...'],
    ['la la land', 'la la land'],
    ['la', 'la la land'],
    ['land', 'la la land'],
    ['la la', 'la la la la la la la'],
    ['na', 'na na na na na na na na na batman'],
    ['a', 'a'],
    ['a', 'a b c d a'],
    ['i', 'me and i'],
    ['ac/dc', 'AC/DC - Highway to Hell'],
    ['acdc', 'AC/DC - Highway to Hell'],
    ['rock n roll', 'rock-n-roll train'],
    ['bjork', 'Björk - Homogenic'],
    ['björk', 'Bjork - Homogenic'],
    ['motorhead', 'Motörhead'],
    ['sigur ros', 'Sigur Rós - Hoppípolla'],
    ['word', 'words'],
    ['words', 'word'],
    ['abab', 'ababababab'],
    ['aaa', 'aaaaaaaa'],
    ['mississippi', 'miss is sippi mississippi'],
  ];
  while (result.length < 4000) {
    const word = pick(VOCABULARY);
    const q = next() < 0.75 ? word : phrase(1 + int(3));
    let text: string;
    switch (int(12)) {
      case 0:
        text = q;
        break;
      case 1: {
        const chars = [...q];
        text = chars.slice(0, 1 + int(chars.length)).join('');
        result.push([text, q]); // and the prefix as the query
        break;
      }
      case 2:
        text = typo(q);
        break;
      case 3:
        text = typo(typo(q));
        break;
      case 4:
        text = q.split(' ').reverse().join(' ');
        break;
      case 5:
        text = recase(q);
        break;
      case 6:
        text = `${Array.from({ length: 2 + int(3) }, () => q).join(' ')} ${pick(LATIN)}`;
        break;
      case 7:
      case 8:
        // A long title with the query (or a slip of it) in the middle.
        text = `${phrase(1 + int(5))} ${next() < 0.5 ? q : typo(q)} ${phrase(1 + int(5))}`;
        break;
      case 9:
        text = `${q}${pick(['-', '/', "'", '.', ''])}${pick(LATIN)}`;
        break;
      case 10:
        text = '';
        break;
      default:
        text = phrase(1 + int(8));
    }
    result.push(next() < 0.9 ? [q, text] : [text, q]);
  }
  return result;
}

/** PostgreSQL's float4, as float8 (exactly, whatever extra_float_digits is), back to a float4. */
const float4 = (value: number | string) => Math.fround(Number(value));

const formatTrigram = (code: number) => code.toString(16).padStart(6, '0');

/** A trigram as `show_trgm` prints it (its three bytes, or 0x + the bytes in hex) as its code. */
const codeOf = (shown: string) =>
  shown.length === 8 && shown.startsWith('0x')
    ? Number.parseInt(shown.slice(2), 16)
    : (shown.charCodeAt(0) << 16) | (shown.charCodeAt(1) << 8) | shown.charCodeAt(2);

describe('trigrams, as pg_trgm makes them', () => {
  it('pads each word with two spaces before and one after, lower-cased, duplicates kept', () => {
    const code = (s: string) => (s.charCodeAt(0) << 16) | (s.charCodeAt(1) << 8) | s.charCodeAt(2);
    expect(trigramCodes('A')).toEqual(['  a', ' a '].map(code));
    expect(trigramCodes('La la!')).toEqual(['  l', ' la', 'la ', '  l', ' la', 'la '].map(code));
    expect(uniqueTrigramCodes('La la!')).toEqual(['  l', ' la', 'la '].map(code).sort((a, b) => a - b));
    expect(trigramCodes('')).toEqual([]);
    expect(trigramCodes(' -/_ ')).toEqual([]);
  });

  it('are the ones show_trgm gives for every string of the pairs', async () => {
    const strings = [...new Set(pairs().flat())];
    const rows = await rowsOf<{ s: string; trigrams: string[] }>(
      t.database.db,
      sql`select s, show_trgm(s) as trigrams from unnest(${sqlArray(strings, 'text')}) as s`,
    );
    expect(rows).toHaveLength(strings.length);
    const mismatches = rows.filter(
      (row) =>
        uniqueTrigramCodes(row.s).map(formatTrigram).join() !==
        row.trigrams
          .map(codeOf)
          .sort((a, b) => a - b)
          .map(formatTrigram)
          .join(),
    );
    expect(mismatches).toEqual([]);
  });

  it('are the ones show_trgm gives for each character of the common scripts on its own', async () => {
    const ranges = [
      [0x20, 0x2ff], // Latin, IPA, modifiers
      [0x370, 0x58f], // Greek, Cyrillic, Armenian
      [0x590, 0x6ff], // Hebrew, Arabic
      [0x900, 0x9ff], // Devanagari, Bengali
      [0xe00, 0xe7f], // Thai
      [0x10a0, 0x11ff], // Georgian, Hangul Jamo
      [0x1e00, 0x218f], // Latin and Greek extended, punctuation, letter-like symbols, number forms
      [0x2460, 0x24b5], // enclosed numbers
      [0x24d0, 0x24ff],
      [0x3000, 0x30ff], // CJK punctuation, kana
      [0x4e00, 0x9fef], // CJK ideographs
      [0xac00, 0xd7a3], // Hangul syllables
      [0xff00, 0xffef], // full-width forms
      [0x1d400, 0x1d7ff], // mathematical letters
      [0x1f000, 0x1faff], // emoji
      [0x20000, 0x200ff], // CJK extension B
    ];
    // PostgreSQL takes its classes and case from the C library. glibc (PostgreSQL servers) agrees
    // with this module on all of these; musl (PGlite) counts neither Thai ฯ nor ๆ as letters and
    // does not lower-case circled letters (Ⓐ, U+24B6 - U+24CF), so they are left out here.
    const skipped = new Set([0xe2f, 0xe46]);
    const codePoints = ranges.flatMap(([from, to]) =>
      Array.from({ length: to! - from! + 1 }, (_, i) => from! + i).filter((c) => !skipped.has(c)),
    );
    const rows = await rowsOf<{ c: number; trigrams: string[] }>(
      t.database.db,
      sql`select c, show_trgm(chr(c)) as trigrams from unnest(${sqlArray(codePoints, 'int')}) as c`,
    );
    expect(rows).toHaveLength(codePoints.length);
    const mismatches = rows
      .filter(
        (row) =>
          uniqueTrigramCodes(String.fromCodePoint(row.c)).join() !==
          row.trigrams
            .map(codeOf)
            .sort((a, b) => a - b)
            .join(),
      )
      .map((row) => row.c.toString(16));
    expect(mismatches).toEqual([]);
  });
});

describe('similarity and word_similarity', () => {
  it('give the float4 PostgreSQL gives, for every pair', async () => {
    const all = pairs();
    const rows = await rowsOf<{ i: number; similarity: number | string; word: number | string }>(
      t.database.db,
      sql`select i::int as i, similarity(a, b)::float8 as similarity, word_similarity(a, b)::float8 as word
            from unnest(${sqlArray(
              all.map(([a]) => a),
              'text',
            )}, ${sqlArray(
              all.map(([, b]) => b),
              'text',
            )}) with ordinality as x(a, b, i)
           order by i`,
    );
    expect(rows).toHaveLength(all.length);

    // The prepared form is reused across texts, interleaved with other queries' (scratch reuse).
    const prepared = new Map<string, (text: string) => number>();
    const mismatches: unknown[] = [];
    let nonZero = 0;
    let ties = 0;
    const seen = new Set<number>();
    for (const row of rows) {
      const [q, text] = all[row.i - 1]!;
      const wordTo = prepared.get(q) ?? wordSimilarityTo(q);
      prepared.set(q, wordTo);
      const expected = { similarity: float4(row.similarity), word: float4(row.word) };
      const actual = { similarity: similarity(q, text), word: wordTo(text) };
      const direct = wordSimilarity(q, text);
      if (
        actual.similarity !== expected.similarity ||
        actual.word !== expected.word ||
        direct !== expected.word
      )
        mismatches.push({ q, text, expected, actual, direct });
      if (expected.word > 0 && expected.word < 1) {
        nonZero++;
        if (seen.has(expected.word)) ties++;
        seen.add(expected.word);
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // The pairs exercise the scan: many partial matches, many of them equal to another.
    expect(nonZero).toBeGreaterThan(1000);
    expect(ties).toBeGreaterThan(1000);
  });

  it('order texts as ORDER BY does, ties included', async () => {
    const { pick, int } = generator(7);
    const texts = Array.from({ length: 400 }, () =>
      Array.from({ length: 1 + int(6) }, () => pick(VOCABULARY)).join(' '),
    );
    for (const q of ['radiohed', 'la la', 'motorhead', 'hart', 'love nights']) {
      const rows = await rowsOf<{ i: number }>(
        t.database.db,
        sql`select i::int as i
              from unnest(${sqlArray(texts, 'text')}) with ordinality as x(text, i)
             order by word_similarity(${q}, text) desc, similarity(${q}, text) desc, i`,
      );
      const byWord = wordSimilarityTo(q);
      const keyed = texts.map((text, i) => ({ i: i + 1, word: byWord(text), whole: similarity(q, text) }));
      keyed.sort((a, b) => b.word - a.word || b.whole - a.whole || a.i - b.i);
      expect(keyed.map((k) => k.i)).toEqual(rows.map((r) => r.i));
    }
  });
});
