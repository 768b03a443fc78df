CREATE TABLE "app_passwords" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"secret" text NOT NULL,
	"lookup" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subsonic_song_stars" (
	"user_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subsonic_song_stars_user_id_song_id_pk" PRIMARY KEY("user_id","song_id")
);
--> statement-breakpoint
ALTER TABLE "app_passwords" ADD CONSTRAINT "app_passwords_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subsonic_song_stars" ADD CONSTRAINT "subsonic_song_stars_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subsonic_song_stars" ADD CONSTRAINT "subsonic_song_stars_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "app_passwords_user_id_idx" ON "app_passwords" USING btree ("user_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "app_passwords_lookup_key" ON "app_passwords" USING btree ("lookup");--> statement-breakpoint
CREATE INDEX "subsonic_song_stars_user_created_idx" ON "subsonic_song_stars" USING btree ("user_id","created_at","song_id");--> statement-breakpoint
CREATE INDEX "subsonic_song_stars_song_id_idx" ON "subsonic_song_stars" USING btree ("song_id");