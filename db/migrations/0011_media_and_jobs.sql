CREATE TABLE "jobs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 5 NOT NULL,
	"unique_key" text,
	"run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"progress" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "media_audio_files" (
	"hash" text PRIMARY KEY NOT NULL,
	"ext" text NOT NULL,
	"bytes" bigint NOT NULL,
	"external_path" text,
	"renditions" jsonb,
	"audio" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media_image_files" (
	"hash" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media_song_audio" (
	"song_id" uuid PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "albums" ADD COLUMN "images" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "albums" ADD COLUMN "image_hash" text;--> statement-breakpoint
ALTER TABLE "artists" ADD COLUMN "images" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "artists" ADD COLUMN "image_hash" text;--> statement-breakpoint
ALTER TABLE "songs" ADD COLUMN "audio" jsonb DEFAULT '{"status":"none"}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "images" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "image_hash" text;--> statement-breakpoint
ALTER TABLE "media_song_audio" ADD CONSTRAINT "media_song_audio_hash_media_audio_files_hash_fk" FOREIGN KEY ("hash") REFERENCES "public"."media_audio_files"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_due_idx" ON "jobs" USING btree ("type","priority","run_at","id") WHERE "jobs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "jobs_status_idx" ON "jobs" USING btree ("status","id");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_unique_key_idx" ON "jobs" USING btree ("unique_key") WHERE "jobs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "media_song_audio_hash_idx" ON "media_song_audio" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "albums_image_hash_idx" ON "albums" USING btree ("image_hash");--> statement-breakpoint
CREATE INDEX "artists_image_hash_idx" ON "artists" USING btree ("image_hash");--> statement-breakpoint
CREATE INDEX "users_image_hash_idx" ON "users" USING btree ("image_hash");