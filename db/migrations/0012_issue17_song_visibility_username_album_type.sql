ALTER TABLE "albums" ADD COLUMN "album_type" text DEFAULT 'album' NOT NULL;--> statement-breakpoint
ALTER TABLE "songs" ADD COLUMN "release_year" integer;--> statement-breakpoint
ALTER TABLE "songs" ADD COLUMN "is_public" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "songs" ADD COLUMN "is_visible" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "username" text;--> statement-breakpoint
CREATE INDEX "songs_release_year_idx" ON "songs" USING btree ("release_year","id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_key" ON "users" USING btree ("username");--> statement-breakpoint
ALTER TABLE "albums" ADD CONSTRAINT "albums_album_type_check" CHECK ("albums"."album_type" in ('album', 'single', 'ep', 'compilation'));--> statement-breakpoint
-- Hand-written below (the generated NOT NULL columns above were made nullable until filled).
-- Existing songs stay public and visible (the defaults), so their `listed` is unchanged; they
-- take their album's release year.
UPDATE "songs" s SET "release_year" = a."release_year" FROM "albums" a WHERE a."id" = s."album_id";--> statement-breakpoint
ALTER TABLE "songs" ALTER COLUMN "release_year" SET NOT NULL;--> statement-breakpoint
-- Existing users get a username made from their email as registration makes one: the local
-- part, lower-case, without characters outside a-z 0-9 . _ -, at most 32 characters (`user`
-- when nothing is left); taken or shorter than 3, it gets the lowest free numeric suffix from 2.
-- Oldest accounts choose first.
DO $$
DECLARE
  u record;
  base text;
  candidate text;
  n int;
BEGIN
  FOR u IN SELECT "id", "email" FROM "users" ORDER BY "created_at", "id" LOOP
    base := left(regexp_replace(lower(split_part(u."email", '@', 1)), '[^a-z0-9._-]', '', 'g'), 32);
    IF base = '' THEN base := 'user'; END IF;
    n := 1;
    LOOP
      candidate := CASE WHEN n = 1 THEN base ELSE left(base, 32 - length(n::text)) || n::text END;
      EXIT WHEN length(candidate) >= 3 AND NOT EXISTS (SELECT 1 FROM "users" WHERE "username" = candidate);
      n := n + 1;
    END LOOP;
    UPDATE "users" SET "username" = candidate WHERE "id" = u."id";
  END LOOP;
END $$;--> statement-breakpoint
ALTER TABLE "users" ALTER COLUMN "username" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_username_check" CHECK ("users"."username" ~ '^[a-z0-9._-]{3,32}$');
