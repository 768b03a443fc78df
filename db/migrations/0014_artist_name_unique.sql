DROP INDEX "artists_lower_name_idx";--> statement-breakpoint
-- Hand-written, and it must run before the unique index: artists that share a name
-- (case-insensitively) keep it for the oldest one; every later one gets a suffix from the
-- random tail of its id, "Name (3f9c2a7b1e04)", which no other artist holds. Their albums and
-- songs carry the artist's name, so they follow.
UPDATE "artists" a SET "name" = a."name" || ' (' || right(a."id"::text, 12) || ')', "updated_at" = now()
FROM (
  SELECT "id", row_number() OVER (PARTITION BY lower("name") ORDER BY "created_at", "id") AS n FROM "artists"
) ranked
WHERE a."id" = ranked."id" AND ranked.n > 1;--> statement-breakpoint
UPDATE "albums" al SET "artist_name" = ar."name" FROM "artists" ar
WHERE al."artist_id" = ar."id" AND al."artist_name" <> ar."name";--> statement-breakpoint
UPDATE "songs" s SET "artist_name" = ar."name" FROM "artists" ar
WHERE s."artist_id" = ar."id" AND s."artist_name" <> ar."name";--> statement-breakpoint
CREATE UNIQUE INDEX "artists_lower_name_key" ON "artists" USING btree (lower("name"));
