CREATE TABLE "albums" (
	"id" uuid PRIMARY KEY NOT NULL,
	"artist_id" uuid NOT NULL,
	"artist_name" text NOT NULL,
	"title" text NOT NULL,
	"genre" text NOT NULL,
	"release_year" integer NOT NULL,
	"release_date" date,
	"cover_url" text,
	"label" text,
	"is_public" boolean DEFAULT true NOT NULL,
	"is_visible" boolean DEFAULT true NOT NULL,
	"listed" boolean DEFAULT true NOT NULL,
	"song_count" integer DEFAULT 0 NOT NULL,
	"duration_ms" bigint DEFAULT 0 NOT NULL,
	"follower_count" integer DEFAULT 0 NOT NULL,
	"play_count" bigint DEFAULT 0 NOT NULL,
	"popularity" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"search_text" text GENERATED ALWAYS AS ("albums"."title" || ' ' || "albums"."artist_name") STORED,
	"search_vector" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "albums"."title" || ' ' || "albums"."artist_name")) STORED,
	CONSTRAINT "albums_popularity_check" CHECK ("albums"."popularity" between 0 and 100)
);
--> statement-breakpoint
CREATE TABLE "songs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"album_id" uuid NOT NULL,
	"artist_id" uuid NOT NULL,
	"artist_name" text NOT NULL,
	"title" text NOT NULL,
	"track_number" integer NOT NULL,
	"duration_ms" integer NOT NULL,
	"genre" text NOT NULL,
	"explicit" boolean DEFAULT false NOT NULL,
	"play_count" bigint DEFAULT 0 NOT NULL,
	"listed" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"search_text" text GENERATED ALWAYS AS ("songs"."title" || ' ' || "songs"."artist_name") STORED,
	"search_vector" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "songs"."title" || ' ' || "songs"."artist_name")) STORED,
	CONSTRAINT "songs_track_number_check" CHECK ("songs"."track_number" > 0),
	CONSTRAINT "songs_duration_ms_check" CHECK ("songs"."duration_ms" > 0)
);
--> statement-breakpoint
ALTER TABLE "artists" ADD COLUMN "search_vector" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "artists"."name")) STORED;--> statement-breakpoint
ALTER TABLE "albums" ADD CONSTRAINT "albums_artist_id_artists_id_fk" FOREIGN KEY ("artist_id") REFERENCES "public"."artists"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "songs" ADD CONSTRAINT "songs_album_id_albums_id_fk" FOREIGN KEY ("album_id") REFERENCES "public"."albums"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "songs" ADD CONSTRAINT "songs_artist_id_artists_id_fk" FOREIGN KEY ("artist_id") REFERENCES "public"."artists"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "albums_artist_id_idx" ON "albums" USING btree ("artist_id","created_at","id");--> statement-breakpoint
CREATE INDEX "albums_lower_genre_idx" ON "albums" USING btree (lower("genre"));--> statement-breakpoint
CREATE INDEX "albums_release_year_idx" ON "albums" USING btree ("release_year","id");--> statement-breakpoint
CREATE INDEX "albums_title_sort_idx" ON "albums" USING btree (lower("title") collate "C","id");--> statement-breakpoint
CREATE INDEX "albums_created_at_idx" ON "albums" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "albums_popularity_idx" ON "albums" USING btree ("popularity","id");--> statement-breakpoint
CREATE INDEX "albums_song_count_idx" ON "albums" USING btree ("song_count","id");--> statement-breakpoint
CREATE INDEX "albums_follower_count_idx" ON "albums" USING btree ("follower_count","id");--> statement-breakpoint
CREATE INDEX "albums_search_text_trgm_idx" ON "albums" USING gin ("search_text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "albums_search_vector_idx" ON "albums" USING gin ("search_vector");--> statement-breakpoint
CREATE UNIQUE INDEX "songs_album_track_key" ON "songs" USING btree ("album_id","track_number");--> statement-breakpoint
CREATE INDEX "songs_artist_id_idx" ON "songs" USING btree ("artist_id","created_at","id");--> statement-breakpoint
CREATE INDEX "songs_lower_genre_idx" ON "songs" USING btree (lower("genre"));--> statement-breakpoint
CREATE INDEX "songs_title_sort_idx" ON "songs" USING btree (lower("title") collate "C","id");--> statement-breakpoint
CREATE INDEX "songs_created_at_idx" ON "songs" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "songs_play_count_idx" ON "songs" USING btree ("play_count","id");--> statement-breakpoint
CREATE INDEX "songs_duration_ms_idx" ON "songs" USING btree ("duration_ms","id");--> statement-breakpoint
CREATE INDEX "songs_search_text_trgm_idx" ON "songs" USING gin ("search_text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "songs_search_vector_idx" ON "songs" USING gin ("search_vector");--> statement-breakpoint
CREATE INDEX "artists_name_sort_idx" ON "artists" USING btree (lower("name") collate "C","id");--> statement-breakpoint
CREATE INDEX "artists_album_count_idx" ON "artists" USING btree ("album_count","id");--> statement-breakpoint
CREATE INDEX "artists_follower_count_idx" ON "artists" USING btree ("follower_count","id");--> statement-breakpoint
CREATE INDEX "artists_name_trgm_idx" ON "artists" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "artists_search_vector_idx" ON "artists" USING gin ("search_vector");