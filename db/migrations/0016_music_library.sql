CREATE TABLE "media_library_albums" (
	"key" text PRIMARY KEY NOT NULL,
	"album_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media_library_files" (
	"path" text PRIMARY KEY NOT NULL,
	"size" bigint NOT NULL,
	"mtime_ms" double precision NOT NULL,
	"song_id" uuid NOT NULL,
	"album_key" text NOT NULL,
	"scan_id" uuid,
	"change" text
);
--> statement-breakpoint
CREATE TABLE "media_library_scans" (
	"id" uuid PRIMARY KEY NOT NULL,
	"path" text NOT NULL,
	"root" text NOT NULL,
	"full" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"total" integer DEFAULT 0 NOT NULL,
	"processed" integer DEFAULT 0 NOT NULL,
	"added" integer DEFAULT 0 NOT NULL,
	"updated" integer DEFAULT 0 NOT NULL,
	"unchanged" integer DEFAULT 0 NOT NULL,
	"removed" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "media_library_files_song_idx" ON "media_library_files" USING btree ("song_id");--> statement-breakpoint
CREATE UNIQUE INDEX "media_library_scans_active_idx" ON "media_library_scans" USING btree ((true)) WHERE "media_library_scans"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "media_library_scans_created_idx" ON "media_library_scans" USING btree ("created_at","id");