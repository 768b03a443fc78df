CREATE TABLE "listener_signals" (
	"user_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"completes" integer DEFAULT 0 NOT NULL,
	"skips" integer DEFAULT 0 NOT NULL,
	"last_completed_at" timestamp with time zone,
	CONSTRAINT "listener_signals_user_id_song_id_pk" PRIMARY KEY("user_id","song_id")
);
--> statement-breakpoint
CREATE TABLE "play_count_guards" (
	"user_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"counted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "play_count_guards_user_id_song_id_pk" PRIMARY KEY("user_id","song_id")
);
--> statement-breakpoint
CREATE TABLE "play_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"song_id" uuid NOT NULL,
	"event" text NOT NULL,
	"position_ms" integer,
	"played_at" timestamp with time zone NOT NULL,
	CONSTRAINT "play_events_event_check" CHECK ("play_events"."event" in ('play', 'complete', 'skip'))
);
--> statement-breakpoint
CREATE TABLE "song_play_buckets" (
	"hour" timestamp with time zone NOT NULL,
	"song_id" uuid NOT NULL,
	"plays" integer NOT NULL,
	CONSTRAINT "song_play_buckets_hour_song_id_pk" PRIMARY KEY("hour","song_id")
);
--> statement-breakpoint
CREATE TABLE "song_trending" (
	"song_id" uuid PRIMARY KEY NOT NULL,
	"plays_24h" integer DEFAULT 0 NOT NULL,
	"plays_7d" integer DEFAULT 0 NOT NULL,
	"plays_30d" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "trending_rolls" (
	"window_name" text PRIMARY KEY NOT NULL,
	"rolled_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "listener_signals" ADD CONSTRAINT "listener_signals_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "listener_signals" ADD CONSTRAINT "listener_signals_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "play_count_guards" ADD CONSTRAINT "play_count_guards_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "play_count_guards" ADD CONSTRAINT "play_count_guards_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "play_events" ADD CONSTRAINT "play_events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "play_events" ADD CONSTRAINT "play_events_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "song_trending" ADD CONSTRAINT "song_trending_song_id_songs_id_fk" FOREIGN KEY ("song_id") REFERENCES "public"."songs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "listener_signals_song_completed_idx" ON "listener_signals" USING btree ("song_id","last_completed_at" DESC NULLS LAST,"user_id");--> statement-breakpoint
CREATE INDEX "play_count_guards_song_id_idx" ON "play_count_guards" USING btree ("song_id");--> statement-breakpoint
CREATE INDEX "play_events_user_recent_idx" ON "play_events" USING btree ("user_id","played_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "play_events_song_id_idx" ON "play_events" USING btree ("song_id");--> statement-breakpoint
CREATE INDEX "song_trending_24h_idx" ON "song_trending" USING btree ("plays_24h" DESC NULLS LAST,"song_id");--> statement-breakpoint
CREATE INDEX "song_trending_7d_idx" ON "song_trending" USING btree ("plays_7d" DESC NULLS LAST,"song_id");--> statement-breakpoint
CREATE INDEX "song_trending_30d_idx" ON "song_trending" USING btree ("plays_30d" DESC NULLS LAST,"song_id");