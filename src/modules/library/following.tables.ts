import { bigserial, index, pgTable, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { albums, artists } from '../catalog/catalog.tables.js';
import { users } from '../identity/identity.tables.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Who follows which album now: one row per user and album. `created_at` starts their notifications. */
export const albumFollows = pgTable(
  'album_follows',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    albumId: uuid('album_id')
      .notNull()
      .references(() => albums.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.albumId] }),
    // "Newest follow first" lists, and the cascade when an album is deleted.
    index('album_follows_user_created_idx').on(t.userId, t.createdAt, t.albumId),
    index('album_follows_album_id_idx').on(t.albumId),
  ],
);

export const artistFollows = pgTable(
  'artist_follows',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    artistId: uuid('artist_id')
      .notNull()
      .references(() => artists.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.artistId] }),
    index('artist_follows_user_created_idx').on(t.userId, t.createdAt, t.artistId),
    index('artist_follows_artist_id_idx').on(t.artistId),
  ],
);

/**
 * Follows that ended. Notifications are derived at read time from follows, so an unfollow
 * keeps its period here: what arrived while the user followed stays in their feed.
 */
export const albumFollowPeriods = pgTable(
  'album_follow_periods',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    albumId: uuid('album_id')
      .notNull()
      .references(() => albums.id, { onDelete: 'cascade' }),
    startedAt: at('started_at').notNull(),
    endedAt: at('ended_at').notNull(),
  },
  (t) => [
    index('album_follow_periods_user_id_idx').on(t.userId, t.albumId),
    index('album_follow_periods_album_id_idx').on(t.albumId),
  ],
);

export const artistFollowPeriods = pgTable(
  'artist_follow_periods',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    artistId: uuid('artist_id')
      .notNull()
      .references(() => artists.id, { onDelete: 'cascade' }),
    startedAt: at('started_at').notNull(),
    endedAt: at('ended_at').notNull(),
  },
  (t) => [
    index('artist_follow_periods_user_id_idx').on(t.userId, t.artistId),
    index('artist_follow_periods_artist_id_idx').on(t.artistId),
  ],
);
