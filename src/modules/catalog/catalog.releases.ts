import { and, eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Db, type Tx, withTx } from '../../platform/db.js';
import { ConflictError } from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import { enqueueJob, type JobHandler } from '../../platform/jobs.js';
import * as repo from './catalog.queries.js';
import type { AlbumRow } from './catalog.repo.js';
import { albums } from './catalog.tables.js';

/**
 * Scheduled releases (`publishAt`): an album with a future `publishAt` is created unreleased
 * (so not `listed`: only its owner and admins see it, and no follower hears of it), and a
 * durable job due at `publishAt` releases it. The job is one per album and time, and releases
 * only with a conditional UPDATE on "still unreleased and still due at this very time": a
 * duplicate or retried job, a second process, or a job whose time was moved or cleared
 * meanwhile changes nothing, so `catalog.album_added` is recorded exactly once, in the same
 * transaction as the release.
 */
export const ALBUM_RELEASE_JOB = 'catalog.album_release';

interface ReleasePayload {
  albumId: string;
  /** The `publishAt` this job was scheduled for (ISO); a job for another time does nothing. */
  publishAt: string;
}

/** What an album's release columns become. */
export interface ReleaseState {
  publishAt: Date | null;
  released: boolean;
}

/** On creation: released at once unless `publishAt` lies ahead of `now`. */
export function releaseOnCreate(publishAt: string | null | undefined, now: Date): ReleaseState {
  const at = publishAt ? new Date(publishAt) : null;
  return { publishAt: at, released: !at || at <= now };
}

/**
 * On PATCH: undefined leaves things as they are. An album still waiting moves to the new
 * time, or is released at once when `publishAt` is cleared or not in the future. A released
 * album cannot be taken back into waiting (its followers were told): only clearing or
 * restating its `publishAt` is accepted.
 */
export function releaseOnUpdate(
  album: Pick<AlbumRow, 'publishAt' | 'released'>,
  publishAt: string | null | undefined,
  now: Date,
): ReleaseState {
  if (publishAt === undefined) return { publishAt: album.publishAt, released: album.released };
  const at = publishAt === null ? null : new Date(publishAt);
  if (!album.released) return { publishAt: at, released: !at || at <= now };
  if (at && at.getTime() !== album.publishAt?.getTime()) {
    throw new ConflictError(
      'The album is already released; publishAt can only be cleared',
      'ALBUM_ALREADY_RELEASED',
    );
  }
  return { publishAt: at, released: true };
}

/**
 * Schedules the release job of a waiting album, inside the caller's transaction. One job per
 * album and time: a moved `publishAt` leaves the old job to find nothing to do.
 */
export async function scheduleRelease(tx: Tx, albumId: string, publishAt: Date): Promise<void> {
  const payload: ReleasePayload = { albumId, publishAt: publishAt.toISOString() };
  await enqueueJob(tx, ALBUM_RELEASE_JOB, payload, {
    runAt: publishAt,
    uniqueKey: `${ALBUM_RELEASE_JOB}:${albumId}:${payload.publishAt}`,
  });
}

export interface ReleaseDeps {
  db: Db;
  clock: () => Date;
  log: FastifyBaseLogger;
  /** The catalog service's cache invalidation, after the release committed. */
  invalidateAlbum: (albumId: string) => Promise<void>;
  invalidateArtist: (artistId: string) => Promise<void>;
  /** What search finds changed (a released album is listed). */
  invalidateSearch: () => Promise<void>;
}

/**
 * Releases the album if it still waits for exactly this `publishAt` and the time has come.
 * Returns the released album, or null when there was nothing to do.
 */
async function release(tx: Tx, payload: ReleasePayload, now: Date): Promise<AlbumRow | null> {
  const album = await repo.findAlbum(tx, payload.albumId);
  if (!album || album.released) return null;
  // The order every album write takes: the artist's row, then the album's.
  const artist = await repo.findArtist(tx, album.artistId, { forUpdate: true });
  if (!artist) return null;
  const publishAt = new Date(payload.publishAt);
  if (publishAt > now) return null;
  const [row] = await tx
    .update(albums)
    .set({
      released: true,
      releasedAt: sql`now()`,
      listed: sql`${albums.isPublic} and ${albums.isVisible} and ${artist.isVisible}`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(albums.id, album.id), eq(albums.released, false), eq(albums.publishAt, publishAt)))
    .returning({ id: albums.id, listed: albums.listed, releaseYear: albums.releaseYear });
  if (!row) return null;
  await repo.copyAlbumToSongs(tx, row.id, row);
  await repo.refreshArtistAlbumCount(tx, album.artistId);
  await recordEvent(tx, 'catalog.album_added', { albumId: row.id, artistId: album.artistId });
  return album;
}

/** The job handler; register it on every process that runs jobs. */
export function albumReleaseJob(deps: ReleaseDeps): JobHandler<ReleasePayload> {
  return {
    concurrency: 4,
    async run({ payload }) {
      const released = await withTx(deps.db, (tx) => release(tx, payload, deps.clock()));
      if (!released) {
        deps.log.info({ albumId: payload.albumId }, 'album release job found nothing to release');
        return;
      }
      await deps.invalidateAlbum(released.id);
      await deps.invalidateArtist(released.artistId);
      await deps.invalidateSearch();
    },
  };
}
