-- Hand-written (drizzle-kit generate --custom): the search lexicon, see catalog.search.ts and
-- docs/architecture.md "Search". Every word of every artist name, album title and song title,
-- as the `simple` full-text configuration spells it; a typo is looked up here by trigram
-- similarity (a few thousand rows) instead of in the titles themselves (millions).
-- Words are never removed: a word no title holds any more matches nothing.
CREATE TABLE "catalog_search_words" (
	"word" text PRIMARY KEY NOT NULL
);--> statement-breakpoint
CREATE INDEX "catalog_search_words_trgm_idx" ON "catalog_search_words" USING gin ("word" gin_trgm_ops);--> statement-breakpoint
CREATE FUNCTION catalog_search_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO catalog_search_words (word)
  SELECT word FROM unnest(tsvector_to_array(NEW.search_vector)) AS word
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "artists_search_words" AFTER INSERT OR UPDATE OF "name" ON "artists"
FOR EACH ROW EXECUTE FUNCTION catalog_search_words_add();--> statement-breakpoint
CREATE TRIGGER "albums_search_words" AFTER INSERT OR UPDATE OF "title" ON "albums"
FOR EACH ROW EXECUTE FUNCTION catalog_search_words_add();--> statement-breakpoint
CREATE TRIGGER "songs_search_words" AFTER INSERT OR UPDATE OF "title" ON "songs"
FOR EACH ROW EXECUTE FUNCTION catalog_search_words_add();--> statement-breakpoint
INSERT INTO "catalog_search_words" ("word")
SELECT unnest(tsvector_to_array("search_vector")) FROM "artists"
UNION SELECT unnest(tsvector_to_array(to_tsvector('simple', "title"))) FROM "albums"
UNION SELECT unnest(tsvector_to_array(to_tsvector('simple', "title"))) FROM "songs"
ON CONFLICT DO NOTHING;
