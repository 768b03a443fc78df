ALTER TABLE "albums" ADD COLUMN "publish_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "albums" ADD COLUMN "released" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "albums" ADD COLUMN "released_at" timestamp with time zone;