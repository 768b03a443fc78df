// What a search matches and ranks, shared by the statements (catalog.search.ts) and the
// in-memory search index (search-built.ts), which must answer alike. No imports: the index's
// worker thread loads this without the database modules.

/** Words of a search that count; later ones are ignored (names rarely have more). */
export const MAX_QUERY_WORDS = 8;

/** Lexicon words a query word may stand for, besides itself: enough for a typo's neighbours. */
export const SIMILAR_WORDS = 4;

/**
 * Shortest query word whose one-edit neighbours are looked up (`catalog_word_deletes`), and
 * only when no lexicon word starts with it: a slip in a short word leaves few trigrams in
 * common ("otsi" and "otis": similarity 0.25), while a word the lexicon knows, or a prefix of
 * one, is left to mean what it says.
 */
export const NEAR_MIN_LENGTH = 3;

/**
 * Rows a relevance-ordered search ranks at most (and the most its `total` says). Ranking
 * computes a trigram similarity per row; a common word matches tens of thousands of songs.
 */
export const SEARCH_CANDIDATES = 500;
