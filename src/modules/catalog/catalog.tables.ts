import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';

export const artists = pgTable(
  'artists',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    name: text('name').notNull(),
    bio: text('bio'),
    imageUrl: text('image_url'),
    genres: text('genres').array().notNull().default(sql`'{}'::text[]`),
    /** The admin's switch: a hidden artist is seen by admins only. */
    isVisible: boolean('is_visible').notNull().default(true),
    albumCount: integer('album_count').notNull().default(0),
    followerCount: integer('follower_count').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('artists_lower_name_idx').on(sql`lower(${t.name})`),
    index('artists_created_at_idx').on(t.createdAt, t.id),
  ],
);
