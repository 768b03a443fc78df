-- Hand-written (drizzle-kit generate --custom): partial covering indexes that drizzle's index
-- builder cannot express (INCLUDE). See docs/architecture.md, "Filtered album lists" and
-- "Notifications: read-time fan-out", and BENCHMARKS.md, "Issue 18 at size L".

-- Filtered album lists (`/albums?genre=&yearFrom=&yearTo=&sort=`) as users see them: the rows of
-- a genre and year range, with every sortable column, straight from the index. Counting them
-- and picking a page's ids are index-only scans; only the page's 20 rows are read from the table.
-- `genre` is included because an index-only scan needs the column under `lower(genre)`.
CREATE INDEX "albums_listed_genre_year_idx" ON "albums" (lower("genre"), "release_year")
  INCLUDE ("genre", "id", "title", "created_at", "popularity", "song_count", "follower_count")
  WHERE "listed";--> statement-breakpoint

-- The notification feed: the listed songs of a followed album after the follow, in time order,
-- without reading the songs themselves.
CREATE INDEX "songs_album_feed_idx" ON "songs" ("album_id", "created_at", "id") WHERE "listed";--> statement-breakpoint

-- The notification feed: the listed albums of a followed artist by announcement time (scheduled
-- release, else creation), likewise index-only.
CREATE INDEX "albums_artist_feed_idx" ON "albums" ("artist_id", (coalesce("released_at", "created_at")), "id")
  INCLUDE ("released_at", "created_at")
  WHERE "listed";
