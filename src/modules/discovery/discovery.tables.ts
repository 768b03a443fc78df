import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { songs } from '../catalog/catalog.tables.js';
import { users } from '../identity/identity.tables.js';

export const PLAY_EVENTS = ['play', 'complete', 'skip'] as const;
export type PlayEvent = (typeof PLAY_EVENTS)[number];

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every listening event as it arrived: the history behind recently played. Append-only, so
 * ingestion never reads it; the counters below are what reads use.
 */
export const playEvents = pgTable(
  'play_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    event: text('event').$type<PlayEvent>().notNull(),
    positionMs: integer('position_ms'),
    playedAt: at('played_at').notNull(),
  },
  (t) => [
    // Recently played walks this index newest first from the cursor; it also serves user deletes.
    index('play_events_user_recent_idx').on(t.userId, t.playedAt.desc(), t.id.desc()),
    index('play_events_song_id_idx').on(t.songId),
    check('play_events_event_check', sql`${t.event} in ('play', 'complete', 'skip')`),
  ],
);

/**
 * When a user's `play` of a song last counted. A conditional upsert on this row is the abuse
 * bound (one counted play per user and song per 30 s); its existence also says "heard it".
 */
export const playCountGuards = pgTable(
  'play_count_guards',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    countedAt: at('counted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.songId] }), index('play_count_guards_song_id_idx').on(t.songId)],
);

/**
 * Per listener and song, how often they finished or skipped it: the collaborative signal.
 * One row per pair, so recommendations read neighbourhoods, never the event history.
 */
export const listenerSignals = pgTable(
  'listener_signals',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    completes: integer('completes').notNull().default(0),
    skips: integer('skips').notNull().default(0),
    lastCompletedAt: at('last_completed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.songId] }),
    // "Who finished this song lately" (the neighbours of a seed) from the index alone; also
    // serves song deletes.
    index('listener_signals_song_completed_idx').on(t.songId, t.lastCompletedAt.desc().nullsLast(), t.userId),
  ],
);

/**
 * Counted plays per song and hour; trending windows are sums of these, kept as running totals.
 * No foreign key: a deleted song's buckets are harmless (its totals row is gone) and age out
 * within 30 days, so ingestion does not maintain a second index for deletes.
 */
export const songPlayBuckets = pgTable(
  'song_play_buckets',
  {
    hour: at('hour').notNull(),
    songId: uuid('song_id').notNull(),
    plays: integer('plays').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hour, t.songId] })],
);

/**
 * Counted plays per song inside each trending window. Ingestion adds to all three; the hourly
 * roll subtracts the buckets that left a window. Ranking is then an index walk.
 */
export const songTrending = pgTable(
  'song_trending',
  {
    songId: uuid('song_id')
      .primaryKey()
      .references(() => songs.id, { onDelete: 'cascade' }),
    plays24h: integer('plays_24h').notNull().default(0),
    plays7d: integer('plays_7d').notNull().default(0),
    plays30d: integer('plays_30d').notNull().default(0),
  },
  (t) => [
    index('song_trending_24h_idx').on(t.plays24h.desc(), t.songId),
    index('song_trending_7d_idx').on(t.plays7d.desc(), t.songId),
    index('song_trending_30d_idx').on(t.plays30d.desc(), t.songId),
  ],
);

/** Per window, the hour before which buckets have been subtracted from `song_trending`. */
export const trendingRolls = pgTable('trending_rolls', {
  window: text('window_name').primaryKey(),
  rolledUntil: at('rolled_until').notNull(),
});
