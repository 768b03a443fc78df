ALTER TABLE "albums" ADD COLUMN "recent_play_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Popularity now comes from recent plays (API.md): start the column from the 30-day totals.
UPDATE "albums" a SET "recent_play_count" = t.plays
FROM (SELECT s.album_id, sum(st.plays_30d)::int AS plays FROM "song_trending" st JOIN "songs" s ON s.id = st.song_id GROUP BY s.album_id) t
WHERE a.id = t.album_id;
--> statement-breakpoint
UPDATE "albums" SET "popularity" = least(100, floor(12 * ln(1 + greatest(0, "follower_count") + greatest(0, "recent_play_count") / 10.0)))::int;
