import { sql } from 'drizzle-orm';
import { type Executor, sqlArray } from '../../platform/db.js';
import { addFollowerCounts } from '../catalog/index.js';
import { albumFollows, artistFollows } from './following.tables.js';

export interface DemoFollows {
  albums: { userId: string; albumId: string; createdAt: Date }[];
  artists: { userId: string; artistId: string; createdAt: Date }[];
}

/** Count of each key in `keys`. */
function tally(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/**
 * Adds the demo's follows (no user follows one thing twice) with the follower counters and
 * popularity they move, in the caller's transaction, as real follows would have. Array
 * parameters and set-based counter updates: a handful of statements, whatever the numbers.
 */
export async function addDemoFollows(tx: Executor, follows: DemoFollows): Promise<void> {
  const rows = (list: { userId: string; createdAt: Date }[], target: (index: number) => string) =>
    sql`unnest(${sqlArray(
      list.map((f) => f.userId),
      'uuid',
    )}, ${sqlArray(
      list.map((_, i) => target(i)),
      'uuid',
    )}, ${sqlArray(
      list.map((f) => f.createdAt.toISOString()),
      'timestamptz',
    )})`;
  if (follows.albums.length) {
    await tx.execute(sql`insert into ${albumFollows} (user_id, album_id, created_at)
      select * from ${rows(follows.albums, (i) => follows.albums[i]!.albumId)}`);
  }
  if (follows.artists.length) {
    await tx.execute(sql`insert into ${artistFollows} (user_id, artist_id, created_at)
      select * from ${rows(follows.artists, (i) => follows.artists[i]!.artistId)}`);
  }
  await addFollowerCounts(tx, {
    albums: tally(follows.albums.map((f) => f.albumId)),
    artists: tally(follows.artists.map((f) => f.artistId)),
  });
}
