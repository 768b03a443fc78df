-- Artist genres are matched case-insensitively but stored as written. An immutable helper
-- lower-cases the array so a GIN index can answer `catalog_lower_genres(genres) && $1`.
CREATE FUNCTION catalog_lower_genres(genres text[]) RETURNS text[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT coalesce(array_agg(lower(g)), '{}'::text[]) FROM unnest(genres) AS g $$;
--> statement-breakpoint
CREATE INDEX "artists_genres_idx" ON "artists" USING gin (catalog_lower_genres("genres"));
