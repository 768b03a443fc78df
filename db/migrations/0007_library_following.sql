CREATE TABLE "album_follow_periods" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"album_id" uuid NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "album_follows" (
	"user_id" uuid NOT NULL,
	"album_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "album_follows_user_id_album_id_pk" PRIMARY KEY("user_id","album_id")
);
--> statement-breakpoint
CREATE TABLE "artist_follow_periods" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"artist_id" uuid NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "artist_follows" (
	"user_id" uuid NOT NULL,
	"artist_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "artist_follows_user_id_artist_id_pk" PRIMARY KEY("user_id","artist_id")
);
--> statement-breakpoint
CREATE TABLE "notification_reads" (
	"user_id" uuid NOT NULL,
	"source_id" uuid NOT NULL,
	"album_id" uuid NOT NULL,
	"read_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_reads_user_id_source_id_pk" PRIMARY KEY("user_id","source_id")
);
--> statement-breakpoint
CREATE TABLE "notification_watermarks" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"read_through" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "album_follow_periods" ADD CONSTRAINT "album_follow_periods_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "album_follow_periods" ADD CONSTRAINT "album_follow_periods_album_id_albums_id_fk" FOREIGN KEY ("album_id") REFERENCES "public"."albums"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "album_follows" ADD CONSTRAINT "album_follows_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "album_follows" ADD CONSTRAINT "album_follows_album_id_albums_id_fk" FOREIGN KEY ("album_id") REFERENCES "public"."albums"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "artist_follow_periods" ADD CONSTRAINT "artist_follow_periods_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "artist_follow_periods" ADD CONSTRAINT "artist_follow_periods_artist_id_artists_id_fk" FOREIGN KEY ("artist_id") REFERENCES "public"."artists"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "artist_follows" ADD CONSTRAINT "artist_follows_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "artist_follows" ADD CONSTRAINT "artist_follows_artist_id_artists_id_fk" FOREIGN KEY ("artist_id") REFERENCES "public"."artists"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_reads" ADD CONSTRAINT "notification_reads_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_watermarks" ADD CONSTRAINT "notification_watermarks_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "album_follow_periods_user_id_idx" ON "album_follow_periods" USING btree ("user_id","album_id");--> statement-breakpoint
CREATE INDEX "album_follow_periods_album_id_idx" ON "album_follow_periods" USING btree ("album_id");--> statement-breakpoint
CREATE INDEX "album_follows_user_created_idx" ON "album_follows" USING btree ("user_id","created_at","album_id");--> statement-breakpoint
CREATE INDEX "album_follows_album_id_idx" ON "album_follows" USING btree ("album_id");--> statement-breakpoint
CREATE INDEX "artist_follow_periods_user_id_idx" ON "artist_follow_periods" USING btree ("user_id","artist_id");--> statement-breakpoint
CREATE INDEX "artist_follow_periods_artist_id_idx" ON "artist_follow_periods" USING btree ("artist_id");--> statement-breakpoint
CREATE INDEX "artist_follows_user_created_idx" ON "artist_follows" USING btree ("user_id","created_at","artist_id");--> statement-breakpoint
CREATE INDEX "artist_follows_artist_id_idx" ON "artist_follows" USING btree ("artist_id");--> statement-breakpoint
CREATE INDEX "notification_reads_source_id_idx" ON "notification_reads" USING btree ("source_id");--> statement-breakpoint
CREATE INDEX "notification_reads_album_id_idx" ON "notification_reads" USING btree ("album_id");