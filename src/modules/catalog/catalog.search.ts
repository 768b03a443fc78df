import { asc, or, type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { type Executor, rowsOf } from '../../platform/db.js';
import { MAX_QUERY_WORDS, NEAR_MIN_LENGTH, SIMILAR_WORDS } from './search-limits.js';

/**
 * Catalog search (see docs/architecture.md, "Search"). A query's words are looked up in
 * `catalog_search_words`, the lexicon of every word of every artist name, album title and song
 * title (kept by triggers, a few thousand rows where the catalog has millions): each word
 * matches itself as a prefix (spelled out as the lexicon's words with that prefix, when they are
 * few) and the lexicon words closest to it by trigram similarity
 * ("teardorp" -> "teardrop", "radiohed" -> "radiohead"), and, for a word no lexicon word
 * starts with, the words one edit away ("otsi" -> "otis"). The result is one full-text query,
 * answered by the GIN index on each table's `search_vector`; at most SEARCH_CANDIDATES rows
 * are then ranked.
 */

/**
 * Lexicon words a query word's prefix may stand for, spelled out. A prefix in a tsquery
 * (`dusty:*`) is a partial match on the GIN index, which reads every TID of every lexeme with
 * that prefix into a bitmap before the other words can narrow it (25 ms for `dusty` among 1M
 * songs, against 1 ms for the exact word). Since the lexicon holds every word of every title,
 * the words it has with that prefix match exactly the same rows; with more of them than this,
 * the prefix is kept.
 */
const PREFIX_WORDS = 32;

/** A lexeme as a quoted tsquery operand. */
const operand = (word: string) => `'${word.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/**
 * `q` as a full-text query over the lexicon's spellings, or null when it has no words.
 * Each word is matched as a prefix (`radio:*`) or as one of its closest lexicon words; a
 * one-letter word among others is matched whole, since its prefix is a large part of the index.
 */
export async function searchQuery(db: Executor, q: string): Promise<string | null> {
  const rows = await rowsOf<{ word: string; similar: string[]; near: string[]; completions: string[] }>(
    db,
    sql`select q.word, c.completions,
               array(select w.word from catalog_search_words w
                      where length(q.word) > 2 and w.word % q.word and w.word <> q.word
                      order by w.word <-> q.word, w.word
                      limit ${SIMILAR_WORDS}) as similar,
               array(select w.word from catalog_search_words w
                      where cardinality(c.completions) = 0 and length(q.word) >= ${NEAR_MIN_LENGTH}
                        and (w.deletes && (catalog_word_deletes(q.word) || q.word)
                             or w.word = any(catalog_word_deletes(q.word)))
                      order by w.word <-> q.word, w.word
                      limit ${SIMILAR_WORDS}) as near
          from unnest(tsvector_to_array(to_tsvector('simple', ${q}))) as q(word)
          cross join lateral (
            select array(select w.word from catalog_search_words w
                         where w.word like replace(replace(replace(q.word, '!', '!!'), '%', '!%'), '_', '!_') || '%' escape '!'
                           and starts_with(w.word, q.word)
                         order by w.word
                         limit ${PREFIX_WORDS + 1}) as completions) c`,
  );
  const words = rows.slice(0, MAX_QUERY_WORDS);
  if (!words.length) return null;
  return words
    .map(({ word, similar, near, completions }) => {
      const self =
        word.length === 1 && words.length > 1
          ? [operand(word)]
          : completions.length && completions.length <= PREFIX_WORDS
            ? completions.map(operand)
            : [`${operand(word)}:*`];
      return `(${[...new Set([...self, ...near.map(operand), ...similar.map(operand)])].join(' | ')})`;
    })
    .join(' & ');
}

/**
 * The words of `q` as the `simple` configuration spells them (sorted, as a tsvector keeps them),
 * the first MAX_QUERY_WORDS: what `searchQuery` looks up, for the search index.
 */
export async function queryWords(db: Executor, q: string): Promise<string[]> {
  const [row] = await rowsOf<{ words: string[] }>(
    db,
    sql`select tsvector_to_array(to_tsvector('simple', ${q})) as words`,
  );
  return (row?.words ?? []).slice(0, MAX_QUERY_WORDS);
}

/**
 * Rows whose full-text document matches a `searchQuery` (null: nothing matches). `param` stands
 * for the query in a statement built once and run with other values (a placeholder).
 */
export const matchesText = (query: string | null, vector: AnyPgColumn, param: unknown = query): SQL =>
  query === null ? sql`false` : sql`${vector} @@ to_tsquery('simple', ${param})`;

/**
 * Relevance order for a lower-cased `q`: exact names first, then prefixes, then similarity. `q`
 * may be a placeholder of a statement built once.
 */
export function relevanceOrder(q: unknown, names: AnyPgColumn[], text: AnyPgColumn, id: AnyPgColumn): SQL[] {
  const exact = or(...names.map((n) => sql`lower(${n}) = ${q}`));
  const prefix = or(...names.map((n) => sql`starts_with(lower(${n}), ${q})`));
  return [
    sql`case when ${exact} then 0 when ${prefix} then 1 else 2 end`,
    sql`word_similarity(${q}, ${text}) desc`,
    asc(id),
  ];
}
