import { index, pgTable, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from '../identity/identity.tables.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Notifications marked read one by one. Notifications themselves are not stored (they are
 * derived from follows and the catalog when read), so a mark names its source: the song of an
 * `album.song_added` or the album of an `artist.album_added`.
 */
export const notificationReads = pgTable(
  'notification_reads',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    sourceId: uuid('source_id').notNull(),
    /** The album the source belongs to, so deleting an album drops the marks of its songs too. */
    albumId: uuid('album_id').notNull(),
    readAt: at('read_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.sourceId] }),
    index('notification_reads_source_id_idx').on(t.sourceId),
    index('notification_reads_album_id_idx').on(t.albumId),
  ],
);

/** "Mark all read": every notification created at or before `read_through` is read. */
export const notificationWatermarks = pgTable('notification_watermarks', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  readThrough: at('read_through').notNull(),
});
