import type { FastifyBaseLogger } from 'fastify';
import type { AuthUser } from '../../platform/auth.js';
import { type Db, withTx } from '../../platform/db.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import { enqueueJob, type JobQueue } from '../../platform/jobs.js';
import { artistExists, getVisibleSongs, type SongView } from '../catalog/index.js';
import * as repo from './live.repo.js';
import type { EventStatus, ProgrammeTrack } from './live.tables.js';

export interface NowPlaying {
  song: SongView;
  positionMs: number;
  startedAt: string;
}

export interface EventView {
  id: string;
  title: string;
  description: string | null;
  host: { id: string; name: string };
  playlist: { id: string; name: string } | null;
  startsAt: string;
  status: EventStatus;
  nowPlaying: NowPlaying | null;
  listenerCount: number;
  createdAt: string;
}

export interface MessageView {
  id: string;
  eventId: string;
  user: { id: string; displayName: string };
  text: string;
  createdAt: string;
}

/** What the live module needs of playlists (the library's playlist service provides it). */
export interface PlaylistAccess {
  visibleTo(caller: AuthUser, id: string): Promise<{ id: string; name: string } | undefined>;
  /** The playlists of `ids` an artist's accounts may see (public, or one of theirs), by id. */
  seenByArtist(artistId: string, ids: string[]): Promise<Map<string, { id: string; name: string }>>;
  programme(id: string): Promise<ProgrammeTrack[] | undefined>;
}

export interface LiveDeps {
  db: Db;
  jobs: JobQueue;
  clock: () => Date;
  playlists: PlaylistAccess;
  log: FastifyBaseLogger;
  /** After an event goes live: its artist's followers' cached notification feeds now miss it. */
  invalidateArtist?: (artistId: string) => Promise<void>;
}

export const START_JOB = 'live.start';
export const END_JOB = 'live.end';
/** Messages a joining listener gets, and a history page at most. */
export const HISTORY_SIZE = 50;
export const MAX_HISTORY_LIMIT = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const eventNotFound = () => new NotFoundError('Event', 'EVENT_NOT_FOUND');

/** Where playback is at `now`: the track playing, how far into it, and when it started. */
export function positionAt(
  programme: ProgrammeTrack[],
  wentLiveAt: Date,
  now: Date,
): { index: number; positionMs: number; startedAtMs: number } | null {
  const elapsed = now.getTime() - wentLiveAt.getTime();
  if (elapsed < 0) return null;
  let start = 0;
  for (let index = 0; index < programme.length; index++) {
    const duration = programme[index]!.durationMs;
    if (elapsed < start + duration) {
      return { index, positionMs: elapsed - start, startedAtMs: wentLiveAt.getTime() + start };
    }
    start += duration;
  }
  return null;
}

/** How long the whole programme plays. */
export const programmeLength = (programme: ProgrammeTrack[]) =>
  programme.reduce((sum, track) => sum + track.durationMs, 0);

/**
 * Listening events: CRUD, the scheduler that moves them scheduled -> live -> ended, chat
 * messages. Listener counts come from the chat (`setListenerCounter`), which owns the sockets.
 */
export function createLiveService(deps: LiveDeps) {
  const { db, jobs, clock, playlists, log } = deps;
  let countListeners: (eventIds: string[]) => Promise<Map<string, number>> = async () => new Map();

  /** The artist the caller hosts for: their own, or for an admin the one they name. */
  async function hostArtist(caller: AuthUser, artistId: string | undefined): Promise<string> {
    if (caller.role === 'admin') {
      if (!artistId) {
        throw new ValidationError(
          'An admin must name the host with artistId',
          [{ path: '/artistId', message: 'is required for admins' }],
          'ARTIST_REQUIRED',
        );
      }
      if (!(await artistExists(db, artistId))) {
        throw new ValidationError(
          'artistId names no artist',
          [{ path: '/artistId', message: 'names no artist' }],
          'UNKNOWN_ARTIST',
        );
      }
      return artistId;
    }
    if (caller.role !== 'artist' || !caller.artistId) {
      throw new ForbiddenError('Only artists and admins host events', 'INSUFFICIENT_ROLE');
    }
    if (artistId && artistId !== caller.artistId) {
      throw new ForbiddenError('Artists host events only for their own artist', 'NOT_EVENT_HOST');
    }
    return caller.artistId;
  }

  /**
   * The playlist must be one the caller and the host artist can both see: an admin scheduling
   * for an artist cannot put someone else's private playlist (or their own) in a public event.
   */
  async function assertPlaylist(caller: AuthUser, artistId: string, playlistId: string): Promise<void> {
    const [mine, host] = await Promise.all([
      playlists.visibleTo(caller, playlistId),
      playlists.seenByArtist(artistId, [playlistId]),
    ]);
    if (!mine || !host.has(playlistId)) {
      throw new ValidationError(
        'playlistId names no playlist you can see',
        [{ path: '/playlistId', message: 'names no playlist you can see' }],
        'UNKNOWN_PLAYLIST',
      );
    }
  }

  function assertFuture(startsAt: Date): void {
    if (startsAt.getTime() <= clock().getTime()) {
      throw new ValidationError(
        'startsAt must be in the future',
        [{ path: '/startsAt', message: 'is in the past' }],
        'STARTS_AT_IN_PAST',
      );
    }
  }

  /** The event when the caller may change it: its host artist's account, or an admin. */
  async function changeable(caller: AuthUser, id: string): Promise<repo.EventRow> {
    const row = await repo.findEvent(db, id);
    if (!row) throw eventNotFound();
    if (caller.role !== 'admin' && caller.artistId !== row.artistId) {
      throw new ForbiddenError("Only the event's host or an admin may change it", 'NOT_EVENT_HOST');
    }
    return row;
  }

  async function nowPlayingOf(row: repo.EventRow, now: Date): Promise<NowPlaying | null> {
    if (row.status !== 'live' || !row.programme || !row.wentLiveAt) return null;
    const at = positionAt(row.programme, row.wentLiveAt, now);
    if (!at) return null;
    const [song] = await getVisibleSongs(db, [row.programme[at.index]!.songId], null);
    if (!song) return null;
    return { song, positionMs: at.positionMs, startedAt: new Date(at.startedAtMs).toISOString() };
  }

  async function toViews(rows: repo.EventRow[]): Promise<EventView[]> {
    const now = clock();
    const byHost = new Map<string, string[]>();
    for (const row of rows) byHost.set(row.artistId, [...(byHost.get(row.artistId) ?? []), row.playlistId]);
    const [seen, counts] = await Promise.all([
      Promise.all(
        [...byHost].map(
          async ([artistId, ids]) => [artistId, await playlists.seenByArtist(artistId, ids)] as const,
        ),
      ).then((entries) => new Map(entries)),
      countListeners(rows.map((row) => row.id)),
    ]);
    return Promise.all(
      rows.map(async (row) => {
        const name = seen.get(row.artistId)?.get(row.playlistId)?.name;
        return {
          id: row.id,
          title: row.title,
          description: row.description,
          host: { id: row.artistId, name: row.artistName },
          playlist: name === undefined ? null : { id: row.playlistId, name },
          startsAt: row.startsAt.toISOString(),
          status: row.status,
          nowPlaying: await nowPlayingOf(row, now),
          listenerCount: counts.get(row.id) ?? 0,
          createdAt: row.createdAt.toISOString(),
        };
      }),
    );
  }

  async function view(id: string): Promise<EventView> {
    const row = await repo.findEvent(db, id);
    if (!row) throw eventNotFound();
    return (await toViews([row]))[0]!;
  }

  /**
   * scheduled -> live, once: the conditional UPDATE is the guard, so two workers (or a job
   * run again after a crash) cannot both take it live, and the notification event and the
   * end job commit with the transition. An event with nothing left to play (playlist deleted,
   * emptied, only hidden songs, or made private by an owner who is not the host) is cancelled instead.
   */
  async function goLive(eventId: string): Promise<void> {
    const row = await repo.findEvent(db, eventId);
    if (row?.status !== 'scheduled') return;
    const now = clock();
    if (row.startsAt.getTime() > now.getTime()) return;
    // A playlist its owner made private since (unless the owner is the host) is not played.
    const seen = await playlists.seenByArtist(row.artistId, [row.playlistId]);
    const programme = seen.has(row.playlistId) ? ((await playlists.programme(row.playlistId)) ?? []) : [];
    const started = await withTx(db, async (tx) => {
      if (!programme.length) {
        if (
          await repo.transition(tx, eventId, ['scheduled'], 'cancelled', { endedAt: now, updatedAt: now })
        ) {
          await recordEvent(tx, 'live.event_ended', { eventId, artistId: row.artistId });
          log.warn({ eventId }, 'live event cancelled at its start: its playlist has nothing to play');
        }
        return false;
      }
      if (
        !(await repo.transition(tx, eventId, ['scheduled'], 'live', {
          wentLiveAt: now,
          programme,
          updatedAt: now,
        }))
      )
        return false;
      await recordEvent(tx, 'live.event_started', { eventId, artistId: row.artistId });
      await enqueueJob(
        tx,
        END_JOB,
        { eventId },
        { runAt: new Date(now.getTime() + programmeLength(programme)), uniqueKey: `live:end:${eventId}` },
      );
      return true;
    });
    if (started) await deps.invalidateArtist?.(row.artistId);
  }

  /** live -> ended after the last track, once (the same guard). */
  async function end(eventId: string): Promise<void> {
    const row = await repo.findEvent(db, eventId);
    if (row?.status !== 'live') return;
    const now = clock();
    const endsAt = (row.wentLiveAt?.getTime() ?? 0) + programmeLength(row.programme ?? []);
    if (endsAt > now.getTime()) {
      // Run early (a clock that moved back): come back at the real end.
      await enqueueJob(
        db,
        END_JOB,
        { eventId },
        { runAt: new Date(endsAt), uniqueKey: `live:end-late:${eventId}` },
      );
      return;
    }
    await withTx(db, async (tx) => {
      if (await repo.transition(tx, eventId, ['live'], 'ended', { endedAt: now, updatedAt: now })) {
        await recordEvent(tx, 'live.event_ended', { eventId, artistId: row.artistId });
      }
    });
  }

  jobs.register<{ eventId: string }>(START_JOB, {
    concurrency: 4,
    run: async ({ payload }) => goLive(payload.eventId),
  });
  jobs.register<{ eventId: string }>(END_JOB, {
    concurrency: 4,
    run: async ({ payload }) => end(payload.eventId),
  });

  function toMessageView(row: repo.MessageRow): MessageView {
    return {
      id: row.id,
      eventId: row.eventId,
      user: { id: row.userId, displayName: row.displayName },
      text: row.text,
      createdAt: row.createdAt.toISOString(),
    };
  }

  return {
    goLive,
    end,

    /** The chat counts listeners (it holds the sockets); until it says, everyone has none. */
    setListenerCounter(counter: (eventIds: string[]) => Promise<Map<string, number>>): void {
      countListeners = counter;
    },

    async create(
      caller: AuthUser,
      input: {
        title: string;
        description?: string | null;
        playlistId: string;
        startsAt: string;
        artistId?: string;
      },
    ): Promise<EventView> {
      const artistId = await hostArtist(caller, input.artistId);
      const startsAt = new Date(input.startsAt);
      assertFuture(startsAt);
      await assertPlaylist(caller, artistId, input.playlistId);
      const id = await withTx(db, async (tx) => {
        const eventId = await repo.insertEvent(tx, {
          artistId,
          playlistId: input.playlistId,
          title: input.title,
          description: input.description ?? null,
          startsAt,
          createdBy: caller.id,
        });
        await enqueueJob(tx, START_JOB, { eventId }, { runAt: startsAt, uniqueKey: `live:start:${eventId}` });
        return eventId;
      });
      jobs.wake();
      return view(id);
    },

    get: view,

    async list(query: { status?: EventStatus; artistId?: string; limit: number; offset: number }) {
      const { rows, total } = await repo.listEvents(db, query);
      return { items: await toViews(rows), total };
    },

    async update(
      caller: AuthUser,
      id: string,
      input: { title?: string; description?: string | null; playlistId?: string; startsAt?: string },
    ): Promise<EventView> {
      const row = await changeable(caller, id);
      const now = clock();
      if (row.status !== 'scheduled' || row.startsAt.getTime() <= now.getTime()) {
        throw new ConflictError('The event has started (or ended); it can no longer change', 'EVENT_STARTED');
      }
      const startsAt = input.startsAt === undefined ? undefined : new Date(input.startsAt);
      if (startsAt) assertFuture(startsAt);
      if (input.playlistId !== undefined) await assertPlaylist(caller, row.artistId, input.playlistId);
      await withTx(db, async (tx) => {
        const changed = await repo.updateScheduled(tx, id, now, {
          ...(input.title !== undefined ? { title: input.title } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.playlistId !== undefined ? { playlistId: input.playlistId } : {}),
          ...(startsAt ? { startsAt } : {}),
        });
        if (!changed) {
          throw new ConflictError(
            'The event has started (or ended); it can no longer change',
            'EVENT_STARTED',
          );
        }
        // The queued start job moves with the event (same unique key).
        if (startsAt) {
          await enqueueJob(
            tx,
            START_JOB,
            { eventId: id },
            { runAt: startsAt, uniqueKey: `live:start:${id}` },
          );
        }
      });
      return view(id);
    },

    /** Cancels a scheduled or live event (its start and end jobs find it cancelled and do nothing). */
    async cancel(caller: AuthUser, id: string): Promise<void> {
      const row = await changeable(caller, id);
      if (row.status === 'cancelled') return;
      if (row.status === 'ended') throw new ConflictError('The event has ended', 'EVENT_ENDED');
      const now = clock();
      await withTx(db, async (tx) => {
        if (
          await repo.transition(tx, id, ['scheduled', 'live'], 'cancelled', { endedAt: now, updatedAt: now })
        ) {
          await recordEvent(tx, 'live.event_ended', { eventId: id, artistId: row.artistId });
        }
      });
    },

    /** The event row (the chat checks status and host), or undefined. */
    async find(id: string): Promise<repo.EventRow | undefined> {
      return UUID.test(id) ? repo.findEvent(db, id) : undefined;
    },

    nowPlayingOf: (row: repo.EventRow) => nowPlayingOf(row, clock()),
    clock,

    async history(id: string, query: { limit: number; cursor?: string }) {
      if (!(await repo.findEvent(db, id))) throw eventNotFound();
      let before: string | undefined;
      if (query.cursor !== undefined) {
        const decoded = Buffer.from(query.cursor, 'base64url').toString();
        if (!UUID.test(decoded)) {
          throw new ValidationError(
            'The cursor is malformed; use nextCursor from the previous page',
            [{ path: '/cursor', message: 'is not a cursor this feed gave out' }],
            'INVALID_CURSOR',
          );
        }
        before = decoded;
      }
      const rows = await repo.listMessages(db, id, { limit: query.limit + 1, before });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        items: page.map(toMessageView),
        nextCursor: rows.length > query.limit && last ? Buffer.from(last.id).toString('base64url') : null,
      };
    },

    /** The last messages, oldest first (what a joining listener is shown). */
    async recentMessages(eventId: string): Promise<MessageView[]> {
      const rows = await repo.listMessages(db, eventId, { limit: HISTORY_SIZE });
      return rows.reverse().map(toMessageView);
    },

    async postMessage(user: AuthUser, eventId: string, text: string): Promise<MessageView> {
      const row = await repo.insertMessage(db, { eventId, userId: user.id, text });
      return toMessageView(row!);
    },

    /** Deletes a message (host or admin); false when the event has no such message. */
    async deleteMessage(caller: AuthUser, eventId: string, messageId: string): Promise<void> {
      await changeable(caller, eventId);
      if (!(await repo.deleteMessage(db, eventId, messageId))) {
        throw new NotFoundError('Message', 'MESSAGE_NOT_FOUND');
      }
    },
  };
}

export type LiveService = ReturnType<typeof createLiveService>;
