import { sql } from 'drizzle-orm';
import { type Executor, sqlArray } from '../../platform/db.js';
import { addSongPlays } from '../catalog/index.js';
import * as repo from './discovery.repo.js';
import { playCountGuards, playEvents } from './discovery.tables.js';

/** One play of the demo's generated history; no user plays one song twice. */
export interface DemoPlay {
  userId: string;
  songId: string;
  playedAt: Date;
}

const HOUR_MS = 3_600_000;
const RECENT_MS = 30 * 86_400_000;

/**
 * Adds a generated listening history in the caller's transaction, with everything a counted play
 * moves: history rows, play guards, song and album play counts, popularity and the trending
 * buckets and totals. A few statements with array parameters instead of the request path, so
 * the demo still loads in a second or two.
 */
export async function addDemoPlays(
  tx: Executor,
  plays: readonly DemoPlay[],
  now = new Date(),
): Promise<void> {
  if (!plays.length) return;
  const users = sqlArray(
    plays.map((p) => p.userId),
    'uuid',
  );
  const songIds = sqlArray(
    plays.map((p) => p.songId),
    'uuid',
  );
  const times = sqlArray(
    plays.map((p) => p.playedAt.toISOString()),
    'timestamptz',
  );
  await tx.execute(sql`insert into ${playEvents} (user_id, song_id, event, position_ms, played_at)
    select u, s, 'play', 0, t from unnest(${users}, ${songIds}, ${times}) as p(u, s, t) order by t`);
  await tx.execute(sql`insert into ${playCountGuards} (user_id, song_id, counted_at)
    select * from unnest(${users}, ${songIds}, ${times})`);
  const counts = new Map<string, { plays: number; recentPlays: number }>();
  const hourly = new Map<string, { hour: Date; songId: string; plays: number }>();
  for (const play of plays) {
    const count = counts.get(play.songId) ?? { plays: 0, recentPlays: 0 };
    count.plays += 1;
    if (now.getTime() - play.playedAt.getTime() < RECENT_MS) count.recentPlays += 1;
    counts.set(play.songId, count);
    const hour = Math.floor(play.playedAt.getTime() / HOUR_MS) * HOUR_MS;
    const key = `${hour}/${play.songId}`;
    const bucket = hourly.get(key) ?? { hour: new Date(hour), songId: play.songId, plays: 0 };
    bucket.plays += 1;
    hourly.set(key, bucket);
  }
  await addSongPlays(tx, counts);
  await repo.addTrendingPlays(tx, [...hourly.values()]);
}
