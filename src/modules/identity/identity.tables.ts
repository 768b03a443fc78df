import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';
import type { Role } from '../../platform/auth.js';
import type { Image } from '../../platform/http.js';
import { artists } from '../catalog/catalog.tables.js';

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    /** Stored lower-case, so uniqueness and login are case-insensitive. */
    email: text('email').notNull(),
    /** Stored lower-case, so uniqueness and login are case-insensitive. */
    username: text('username').notNull(),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name').notNull(),
    role: text('role').$type<Role>().notNull().default('user'),
    artistId: uuid('artist_id').references(() => artists.id, { onDelete: 'set null' }),
    blocked: boolean('blocked').notNull().default(false),
    /** The uploaded avatar (the media module writes it), largest first. */
    images: jsonb('images').$type<Image[]>().notNull().default(sql`'[]'::jsonb`),
    imageHash: text('image_hash'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('users_email_key').on(t.email),
    uniqueIndex('users_username_key').on(t.username),
    index('users_created_at_idx').on(t.createdAt, t.id),
    index('users_image_hash_idx').on(t.imageHash),
    check('users_username_check', sql`${t.username} ~ '^[a-z0-9._-]{3,32}$'`),
    check('users_role_check', sql`${t.role} in ('user', 'artist', 'admin')`),
  ],
);

/** One sign-in: its refresh tokens form a family, and its access tokens carry its id. */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId)],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    /** SHA-256 of the opaque token; the token itself is never stored. */
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
    /**
     * The token that replaced this one, encrypted (AES-256-GCM, key derived from JWT_SECRET),
     * so a client that sends this token twice within the reuse window gets the same successor.
     * Cleared once the successor is itself spent.
     */
    successorSealed: text('successor_sealed'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    index('refresh_tokens_session_id_idx').on(t.sessionId),
  ],
);
