-- Hand-written (drizzle-kit generate --custom): neighbours of a word by one edit, see
-- catalog.search.ts and docs/architecture.md "Search". Trigram similarity misses a slip in a
-- short word ("otsi" and "otis" share 2 of 8 trigrams, similarity 0.25 under the 0.3 of `%`),
-- so each lexicon word also keeps its spellings with one letter deleted. Two words are one edit
-- apart (a letter added, dropped or changed, or two neighbouring letters swapped) when one is a
-- deletion of the other or both share a deletion; GIN on the array answers that by index.
CREATE FUNCTION catalog_word_deletes(word text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN array(SELECT left(word, i - 1) || substr(word, i + 1) FROM generate_series(1, length(word)) AS i);--> statement-breakpoint
ALTER TABLE "catalog_search_words"
  ADD COLUMN "deletes" text[] GENERATED ALWAYS AS (catalog_word_deletes("word")) STORED;--> statement-breakpoint
CREATE INDEX "catalog_search_words_deletes_idx" ON "catalog_search_words" USING gin ("deletes");
