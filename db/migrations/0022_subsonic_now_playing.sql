CREATE TABLE "subsonic_now_playing" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"song_id" uuid NOT NULL,
	"player" text NOT NULL,
	"reported_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "subsonic_now_playing" ADD CONSTRAINT "subsonic_now_playing_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subsonic_now_playing" ADD CONSTRAINT "subsonic_now_playing_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "subsonic_now_playing_reported_at_idx" ON "subsonic_now_playing" USING btree ("reported_at");