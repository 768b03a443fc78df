-- playlists.follower_count follows playlist_follows row by row. A trigger rather than the
-- repository: follows also vanish by cascade when a user is deleted, which the library never sees.
CREATE FUNCTION library_playlist_follower_count() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE playlists SET follower_count = follower_count + 1 WHERE id = NEW.playlist_id;
  ELSE
    UPDATE playlists SET follower_count = follower_count - 1 WHERE id = OLD.playlist_id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER playlist_follows_follower_count
  AFTER INSERT OR DELETE ON playlist_follows
  FOR EACH ROW EXECUTE FUNCTION library_playlist_follower_count();
