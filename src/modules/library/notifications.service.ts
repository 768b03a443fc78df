import { createHash } from 'node:crypto';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db.js';
import { ValidationError } from '../../platform/errors.js';
import type { EventBus } from '../../platform/events.js';
import { albumTag, artistTag } from '../catalog/index.js';
import type { FeedRow, NotificationType, Position } from './notifications.repo.js';
import * as repo from './notifications.repo.js';
import {
  HEARTBEAT_MS,
  MAX_STREAMS_PER_PROCESS,
  MAX_STREAMS_PER_USER,
  SESSION_CHECK_MS,
  type StreamConnection,
  StreamHub,
} from './notifications.stream.js';

export interface NotificationView {
  id: string;
  type: NotificationType;
  createdAt: string;
  readAt: string | null;
  /** null for `event.started`. */
  album: { id: string; title: string } | null;
  song: { id: string; title: string } | null;
  artist: { id: string; name: string };
  /** The listening event of an `event.started`, else null. */
  event: { id: string; title: string } | null;
}

export interface NotificationFeed {
  items: NotificationView[];
  nextCursor: string | null;
  unreadCount: number;
}

export interface NotificationDeps {
  db: Db;
  /** Feed pages are cached per user; see `feedTag` for what invalidates them. */
  cache: Cache;
  bus: EventBus;
  log: FastifyBaseLogger;
  /** Business time: a stream ends when the access token that opened it expires on it. */
  clock: Clock;
  /** Whether the session a stream was opened with still holds (not logged out, blocked, deleted). */
  sessionLive: (user: AuthUser) => Promise<boolean>;
}

/**
 * The cache tag of one user's own part of their feed: their follows and read marks. Bumped by
 * follows and unfollows (the following service) and read marks (here). The rest of a cached
 * feed page depends on the catalog tags of the albums and artists the user follows or followed
 * (`albumTag`, `artistTag`), which the catalog bumps after every change to what an album's or
 * artist's cached reads show: a new, deleted, hidden or renamed song or album, a release, a
 * rename, and (the live service) an event going live. A write does no work per follower: one
 * album's tag is bumped, whoever follows it.
 */
export const feedTag = (userId: string) => `notifications:user:${userId}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REPLAY_BATCH = 100;
/** Users looked up per query when an event is delivered to the streams open here. */
const DELIVERY_BATCH = 1000;

// ---------------------------------------------------------------------------------------------
// Ids and cursors

/**
 * The mask that turns a source id (song or album) into one user's notification id. Ids so
 * derived are stable without storing notifications, differ per user (one user's ids mean
 * nothing in another's feed), and turn back into the source by the same XOR. Version and
 * variant bits are left alone, so the id keeps the form of a UUID v7.
 */
function userMask(userId: string): Buffer {
  const mask = createHash('sha256').update(`backbeat:notification:${userId}`).digest().subarray(0, 16);
  mask[6]! &= 0x0f;
  mask[8]! &= 0x3f;
  return mask;
}

function xorUuid(uuid: string, mask: Buffer): string {
  const bytes = Buffer.from(uuid.replaceAll('-', ''), 'hex');
  for (let i = 0; i < 16; i++) bytes[i]! ^= mask[i]!;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const notificationId = (userId: string, sourceId: string) => xorUuid(sourceId, userMask(userId));
export const sourceIdOf = (userId: string, id: string) => xorUuid(id.toLowerCase(), userMask(userId));

function encodeCursor(row: FeedRow): string {
  return Buffer.from(`${row.position}.${row.sourceId}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const match = /^(\d{1,19})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match || !UUID.test(match[2]!)) {
    throw new ValidationError(
      'The cursor is malformed; use nextCursor from the previous page',
      [{ path: '/cursor', message: 'is not a cursor this feed gave out' }],
      'INVALID_CURSOR',
    );
  }
  return { us: match[1]!, sourceId: match[2]! };
}

/** Milliseconds since the epoch in a UUID v7's first 48 bits. */
function uuidv7Time(uuid: string): number {
  return Number.parseInt(uuid.replaceAll('-', '').slice(0, 12), 16);
}

function toView(row: FeedRow): NotificationView {
  return {
    id: notificationId(row.userId, row.sourceId),
    type: row.type,
    createdAt: row.createdAt.toISOString(),
    readAt: row.readAt?.toISOString() ?? null,
    album: row.albumId && row.albumTitle !== null ? { id: row.albumId, title: row.albumTitle } : null,
    song: row.songId && row.songTitle !== null ? { id: row.songId, title: row.songTitle } : null,
    artist: { id: row.artistId, name: row.artistName },
    event: row.eventId && row.eventTitle !== null ? { id: row.eventId, title: row.eventTitle } : null,
  };
}

// ---------------------------------------------------------------------------------------------
// The service

export function createNotificationService(deps: NotificationDeps) {
  const { db, cache, bus, log, clock, sessionLive } = deps;
  const settings = {
    heartbeatMs: HEARTBEAT_MS,
    sessionCheckMs: SESSION_CHECK_MS,
    limits: { maxPerUser: MAX_STREAMS_PER_USER, maxPerProcess: MAX_STREAMS_PER_PROCESS },
  };
  const streams = new StreamHub<NotificationView>(settings.limits, clock);

  /**
   * The connections among `connections` whose session and token still hold; the others are
   * ended. The session lookups of one call share a batched query.
   */
  async function liveOnly(
    connections: StreamConnection<NotificationView>[],
  ): Promise<StreamConnection<NotificationView>[]> {
    const live = await Promise.all(
      connections.map(async (connection) => {
        if (connection.expired || !(await sessionLive(connection.user))) {
          streams.close(connection);
          return false;
        }
        return true;
      }),
    );
    return connections.filter((_, index) => live[index]);
  }

  /**
   * Pushes the notifications of a new song or album to the followers streaming from this
   * process, after checking that their sessions still hold: nothing reaches a stream whose
   * user has logged out, been blocked or been deleted meanwhile.
   */
  async function deliver(sourceId: string): Promise<void> {
    const userIds = streams.userIds();
    for (let i = 0; i < userIds.length; i += DELIVERY_BATCH) {
      const rows = await repo.findBySource(db, userIds.slice(i, i + DELIVERY_BATCH), [sourceId]);
      const recipients = await liveOnly(rows.flatMap((row) => streams.connections(row.userId)));
      const views = new Map(rows.map((row) => [row.userId, toView(row)]));
      for (const connection of recipients) connection.push(views.get(connection.userId)!);
    }
  }

  /**
   * Ends streams whose session ended (logout, password change, block, deletion, on any
   * process) while nothing was delivered to them. Runs every `sessionCheckMs` while streams are open.
   */
  let sweep: NodeJS.Timeout | undefined;
  /** When the pending sweep's timer fires, on the monotonic timer that timers run on. */
  let sweepAt = 0;
  function scheduleSweep(): void {
    if (!streams.size || (sweep && sweepAt <= performance.now() + settings.sessionCheckMs)) return;
    clearTimeout(sweep);
    sweepAt = performance.now() + settings.sessionCheckMs;
    sweep = setTimeout(async () => {
      try {
        await liveOnly(streams.connections());
      } catch (error) {
        log.error({ err: error }, 'checking the sessions of notification streams failed');
      }
      sweep = undefined;
      scheduleSweep();
    }, settings.sessionCheckMs);
    sweep.unref();
  }

  // Idempotent handlers: the relay delivers at least once and retries a handler that fails.
  bus.subscribe('catalog.song_added', (event) => deliver(event.payload.songId), 'every-process');
  bus.subscribe('catalog.album_added', (event) => deliver(event.payload.albumId), 'every-process');
  bus.subscribe('live.event_started', (event) => deliver(event.payload.eventId), 'every-process');
  bus.subscribe('catalog.song_deleted', (event) => repo.deleteReadsOfSource(db, event.payload.songId), {
    group: 'notifications',
  });
  bus.subscribe('catalog.album_deleted', (event) => repo.deleteReadsOfAlbum(db, event.payload.albumId), {
    group: 'notifications',
  });

  /** Where a stream resumes: just after the notification the client saw last. */
  async function resumePosition(user: AuthUser, lastEventId: string): Promise<Position> {
    if (!UUID.test(lastEventId)) {
      throw new ValidationError(
        'Last-Event-ID is not a notification id',
        [{ path: '/last-event-id', message: 'is not a notification id' }],
        'INVALID_LAST_EVENT_ID',
      );
    }
    const sourceId = sourceIdOf(user.id, lastEventId);
    // A deleted source has no row left; its UUID v7 still tells when it was made.
    const us = (await repo.findPosition(db, sourceId)) ?? String(uuidv7Time(sourceId) * 1000);
    return { us, sourceId };
  }

  return {
    settings,

    async list(
      user: AuthUser,
      query: { limit: number; unreadOnly?: boolean; cursor?: string },
    ): Promise<NotificationFeed> {
      const before = query.cursor ? decodeCursor(query.cursor) : undefined;
      const sources = await cache.read(
        { key: `notifications:sources:${user.id}`, tags: [feedTag(user.id)] },
        () => repo.feedSources(db, user.id),
      );
      const tags = [feedTag(user.id), ...sources.albumIds.map(albumTag), ...sources.artistIds.map(artistTag)];
      const key = `notifications:feed:${user.id}:${query.limit}:${query.unreadOnly ? 1 : 0}:${query.cursor ?? ''}`;
      return cache.read({ key, tags }, async () => {
        const { rows, unreadCount } = await repo.feedPage(db, user.id, {
          limit: query.limit + 1,
          unreadOnly: query.unreadOnly,
          before,
        });
        const page = rows.slice(0, query.limit);
        const last = page.at(-1);
        return {
          items: page.map(toView),
          nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
          unreadCount,
        };
      });
    },

    /** Without `ids`, everything read; ids that name nothing in the caller's feed are ignored. */
    async markRead(user: AuthUser, ids: string[] | undefined): Promise<void> {
      if (ids === undefined) await repo.markAllRead(db, user.id);
      else await repo.markRead(db, user.id, [...new Set(ids.map((id) => sourceIdOf(user.id, id)))]);
      await cache.invalidate(feedTag(user.id));
    },

    /**
     * Serves `GET /me/notifications/stream`: replays what came after `Last-Event-ID`, then
     * streams live. The stream is registered before the replay is read, and holds live events
     * back until the replay is written, so nothing falls between the two.
     */
    async openStream(request: FastifyRequest, reply: FastifyReply, lastEventId: string | undefined) {
      const user = request.user!;
      const connection = streams.add(user, request.tokenExpiresAtMs!, reply.raw);
      scheduleSweep();
      let after: Position | undefined;
      try {
        after = lastEventId ? await resumePosition(user, lastEventId) : undefined;
      } catch (error) {
        streams.remove(connection);
        throw error;
      }
      reply.hijack();
      connection.start(
        {
          ...(reply.getHeaders() as Record<string, string>),
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          'x-accel-buffering': 'no',
          connection: 'keep-alive',
          'x-request-id': String(request.id),
        },
        settings.heartbeatMs,
      );
      try {
        while (after && connection.open) {
          const rows = await repo.listFeed(db, user.id, { limit: REPLAY_BATCH, after });
          for (const row of rows) connection.write(toView(row));
          const last = rows.at(-1);
          after =
            rows.length === REPLAY_BATCH && last ? { us: last.position, sourceId: last.sourceId } : undefined;
        }
        connection.goLive();
      } catch (error) {
        // The headers are out; the client reconnects with its Last-Event-ID and misses nothing.
        log.error({ err: error, reqId: request.id }, 'notification stream replay failed');
        connection.end();
      }
    },

    closeStreams(): void {
      clearTimeout(sweep);
      streams.closeAll();
    },
  };
}

export type NotificationService = ReturnType<typeof createNotificationService>;
