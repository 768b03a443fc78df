-- Catalog search indexes skip GIN's pending list. With it, inserted rows wait in an unsorted
-- list until a VACUUM (which embedded PGlite never runs on its own), and the planner prices the
-- indexes so high that typo searches fall back to a sequential scan computing word_similarity
-- on every row (measured: 0.4 s on 10k albums instead of 4 ms). The catalog is read far more
-- than it is written, so the slower insert is the better trade.
ALTER INDEX "artists_name_trgm_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "artists_search_vector_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "artists_genres_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "albums_search_text_trgm_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "albums_search_vector_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "songs_search_text_trgm_idx" SET (fastupdate = off);
--> statement-breakpoint
ALTER INDEX "songs_search_vector_idx" SET (fastupdate = off);
