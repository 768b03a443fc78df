import { index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';
import { songs } from '../catalog/catalog.tables.js';
import { users } from '../identity/identity.tables.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Passwords for Subsonic players. Token auth (`t` = md5(password + salt)) needs the password
 * itself, so it is kept encrypted (AES-256-GCM, key derived from the server secret), never in
 * plain text; `lookup` is a keyed hash of it, to find the owner of an `apiKey` by index.
 */
export const appPasswords = pgTable(
  'app_passwords',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** `v1.<iv>.<tag>.<ciphertext>`, base64url. */
    secret: text('secret').notNull(),
    /** HMAC-SHA-256 of the password (hex) under a key of its own. */
    lookup: text('lookup').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('app_passwords_user_id_idx').on(t.userId, t.createdAt, t.id),
    uniqueIndex('app_passwords_lookup_key').on(t.lookup),
  ],
);

/** Stars on songs: Backbeat has no song favourites of its own (album and artist stars are follows). */
export const songStars = pgTable(
  'subsonic_song_stars',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.songId] }),
    index('subsonic_song_stars_user_created_idx').on(t.userId, t.createdAt, t.songId),
    index('subsonic_song_stars_song_id_idx').on(t.songId),
  ],
);

/**
 * What each user's player last reported playing (`scrobble` with `submission=false`), shared by
 * every process so `getNowPlaying` answers the same whichever one serves it.
 */
export const nowPlaying = pgTable(
  'subsonic_now_playing',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    songId: uuid('song_id')
      .notNull()
      .references(() => songs.id, { onDelete: 'cascade' }),
    player: text('player').notNull(),
    reportedAt: at('reported_at').notNull(),
  },
  (t) => [index('subsonic_now_playing_reported_at_idx').on(t.reportedAt)],
);
