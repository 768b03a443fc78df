import {
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';
import { songs } from '../catalog/catalog.tables.js';
import { users } from '../identity/identity.tables.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const playlists = pgTable(
  'playlists',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    isPublic: boolean('is_public').notNull().default(true),
    /**
     * Kept by a trigger on `playlist_follows` (migration library_playlist_follower_count), so
     * follows that vanish with a deleted user (a cascade the library never sees) still count.
     */
    followerCount: integer('follower_count').notNull().default(0),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('playlists_owner_id_idx').on(t.ownerId, t.createdAt, t.id),
    index('playlists_name_trgm_idx').using('gin', t.name.op('gin_trgm_ops')),
  ],
);

/**
 * One entry of a playlist (a song may appear several times). `position` orders the entries;
 * the position a client sees is the rank among entries whose song everyone may see, computed
 * at read time (see playlists.service.ts), so hidden or deleted songs never leave holes.
 */
export const playlistTracks = pgTable(
  'playlist_tracks',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    playlistId: uuid('playlist_id')
      .notNull()
      .references(() => playlists.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    addedAt: at('added_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('playlist_tracks_playlist_position_key').on(t.playlistId, t.position),
    index('playlist_tracks_song_id_idx').on(t.songId),
  ],
);

export const playlistFollows = pgTable(
  'playlist_follows',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    playlistId: uuid('playlist_id')
      .notNull()
      .references(() => playlists.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.playlistId] }),
    index('playlist_follows_user_created_idx').on(t.userId, t.createdAt, t.playlistId),
    index('playlist_follows_playlist_id_idx').on(t.playlistId),
  ],
);
