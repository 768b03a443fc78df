import { sql } from 'drizzle-orm';
import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';
import { artists } from '../catalog/catalog.tables.js';
import { users } from '../identity/identity.tables.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const EVENT_STATUSES = ['scheduled', 'live', 'ended', 'cancelled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** One track of the programme fixed at go-live: later playlist edits do not move the position. */
export interface ProgrammeTrack {
  songId: string;
  durationMs: number;
}

/**
 * Listening events. `playlistId` has no foreign key: the playlist belongs to the library, and a
 * playlist deleted before the start makes the event `cancelled` at its start time rather than
 * taking the event row with it (docs/architecture.md, "Live events").
 */
export const liveEvents = pgTable(
  'live_events',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    artistId: uuid('artist_id')
      .notNull()
      .references(() => artists.id, { onDelete: 'cascade' }),
    playlistId: uuid('playlist_id').notNull(),
    title: text('title').notNull(),
    description: text('description'),
    startsAt: at('starts_at').notNull(),
    status: text('status').$type<EventStatus>().notNull().default('scheduled'),
    /** When the scheduler moved it to `live`: playback positions count from here. */
    wentLiveAt: at('went_live_at'),
    endedAt: at('ended_at'),
    /** The tracks it plays, fixed at go-live. */
    programme: jsonb('programme').$type<ProgrammeTrack[]>(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('live_events_starts_at_idx').on(t.startsAt, t.id),
    index('live_events_artist_id_idx').on(t.artistId, t.startsAt, t.id),
    index('live_events_went_live_idx').on(t.artistId, t.wentLiveAt).where(sql`${t.wentLiveAt} is not null`),
  ],
);

/** Chat messages of an event; they go with the event. */
export const liveMessages = pgTable(
  'live_messages',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    eventId: uuid('event_id')
      .notNull()
      .references(() => liveEvents.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    text: text('text').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('live_messages_event_id_idx').on(t.eventId, t.id),
    index('live_messages_user_id_idx').on(t.userId),
  ],
);
