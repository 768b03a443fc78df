import { and, asc, count, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { artists } from '../catalog/index.js';
import { users } from '../identity/index.js';
import { type EventStatus, liveEvents, liveMessages, type ProgrammeTrack } from './live.tables.js';

export type EventRow = typeof liveEvents.$inferSelect & { artistName: string };
export type MessageRow = typeof liveMessages.$inferSelect & { displayName: string };

function eventQuery(db: Executor) {
  return db
    .select({
      id: liveEvents.id,
      artistId: liveEvents.artistId,
      playlistId: liveEvents.playlistId,
      title: liveEvents.title,
      description: liveEvents.description,
      startsAt: liveEvents.startsAt,
      status: liveEvents.status,
      wentLiveAt: liveEvents.wentLiveAt,
      endedAt: liveEvents.endedAt,
      programme: liveEvents.programme,
      createdBy: liveEvents.createdBy,
      createdAt: liveEvents.createdAt,
      updatedAt: liveEvents.updatedAt,
      artistName: artists.name,
    })
    .from(liveEvents)
    .innerJoin(artists, eq(artists.id, liveEvents.artistId));
}

export async function insertEvent(
  tx: Executor,
  values: {
    artistId: string;
    playlistId: string;
    title: string;
    description: string | null;
    startsAt: Date;
    createdBy: string;
  },
): Promise<string> {
  const [row] = await tx.insert(liveEvents).values(values).returning({ id: liveEvents.id });
  return row!.id;
}

export async function findEvent(db: Executor, id: string): Promise<EventRow | undefined> {
  const [row] = await eventQuery(db).where(eq(liveEvents.id, id));
  return row;
}

export async function listEvents(
  db: Executor,
  filter: { status?: EventStatus; artistId?: string; limit: number; offset: number },
): Promise<{ rows: EventRow[]; total: number }> {
  const where = and(
    filter.status ? eq(liveEvents.status, filter.status) : undefined,
    filter.artistId ? eq(liveEvents.artistId, filter.artistId) : undefined,
  );
  const [rows, [totals]] = await Promise.all([
    eventQuery(db)
      .where(where)
      .orderBy(asc(liveEvents.startsAt), asc(liveEvents.id))
      .limit(filter.limit)
      .offset(filter.offset),
    db.select({ n: count() }).from(liveEvents).where(where),
  ]);
  return { rows, total: totals?.n ?? 0 };
}

/**
 * Changes a scheduled event that has not started yet. The condition is the guard: a change
 * that races the go-live finds no row and the caller answers 409.
 */
export async function updateScheduled(
  tx: Executor,
  id: string,
  now: Date,
  changes: Partial<{ title: string; description: string | null; playlistId: string; startsAt: Date }>,
): Promise<boolean> {
  const rows = await tx
    .update(liveEvents)
    .set({ ...changes, updatedAt: now })
    .where(
      and(eq(liveEvents.id, id), eq(liveEvents.status, 'scheduled'), sql`${liveEvents.startsAt} > ${now}`),
    )
    .returning({ id: liveEvents.id });
  return rows.length > 0;
}

/** Moves an event from one status to another; false when it was no longer in `from` (another process did it). */
export async function transition(
  tx: Executor,
  id: string,
  from: EventStatus[],
  to: EventStatus,
  set: Partial<{ wentLiveAt: Date; endedAt: Date; programme: ProgrammeTrack[]; updatedAt: Date }>,
): Promise<boolean> {
  const rows = await tx
    .update(liveEvents)
    .set({ ...set, status: to })
    .where(and(eq(liveEvents.id, id), sql`${liveEvents.status} in ${from}`))
    .returning({ id: liveEvents.id });
  return rows.length > 0;
}

function messageQuery(db: Executor) {
  return db
    .select({
      id: liveMessages.id,
      eventId: liveMessages.eventId,
      userId: liveMessages.userId,
      text: liveMessages.text,
      createdAt: liveMessages.createdAt,
      displayName: users.displayName,
    })
    .from(liveMessages)
    .innerJoin(users, eq(users.id, liveMessages.userId));
}

export async function insertMessage(
  db: Executor,
  values: { eventId: string; userId: string; text: string },
): Promise<MessageRow | undefined> {
  const [row] = await db.insert(liveMessages).values(values).returning({ id: liveMessages.id });
  const [message] = await messageQuery(db).where(eq(liveMessages.id, row!.id));
  return message;
}

/** Messages of an event, newest first, strictly older than `before` (a message id) when given. */
export function listMessages(
  db: Executor,
  eventId: string,
  options: { limit: number; before?: string },
): Promise<MessageRow[]> {
  const conditions: SQL[] = [eq(liveMessages.eventId, eventId)];
  if (options.before) conditions.push(lt(liveMessages.id, options.before));
  return messageQuery(db)
    .where(and(...conditions))
    .orderBy(desc(liveMessages.id))
    .limit(options.limit);
}

export async function deleteMessage(db: Executor, eventId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(liveMessages)
    .where(and(eq(liveMessages.id, id), eq(liveMessages.eventId, eventId)))
    .returning({ id: liveMessages.id });
  return rows.length > 0;
}
