import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { type ArtistViewRow, albums, artists } from '../catalog/index.js';
import { albumFollowPeriods, albumFollows, artistFollowPeriods, artistFollows } from './following.tables.js';

interface PageWindow {
  limit: number;
  offset: number;
}

/**
 * Locks the album row the follower counter lives on, before the follow row: follow and unfollow
 * take their locks in the same order, so two of them never deadlock. Returns whether the album
 * exists and passes `visible`.
 */
export async function lockAlbum(
  tx: Executor,
  albumId: string,
  visible: SQL | undefined,
): Promise<{ exists: boolean; visible: boolean }> {
  const [row] = await tx
    .select({ visible: sql<boolean>`${visible ?? sql`true`}` })
    .from(albums)
    .where(eq(albums.id, albumId))
    .for('no key update');
  return { exists: !!row, visible: row?.visible === true };
}

/** Same as `lockAlbum`, for artists. */
export async function lockArtist(
  tx: Executor,
  artistId: string,
  visible: SQL | undefined,
): Promise<{ exists: boolean; visible: boolean }> {
  const [row] = await tx
    .select({ visible: sql<boolean>`${visible ?? sql`true`}` })
    .from(artists)
    .where(eq(artists.id, artistId))
    .for('no key update');
  return { exists: !!row, visible: row?.visible === true };
}

/** True when the follow is new (so the counter moves only then). */
export async function insertAlbumFollow(tx: Executor, userId: string, albumId: string): Promise<boolean> {
  const rows = await tx
    .insert(albumFollows)
    .values({ userId, albumId })
    .onConflictDoNothing()
    .returning({ userId: albumFollows.userId });
  return rows.length > 0;
}

export async function insertArtistFollow(tx: Executor, userId: string, artistId: string): Promise<boolean> {
  const rows = await tx
    .insert(artistFollows)
    .values({ userId, artistId })
    .onConflictDoNothing()
    .returning({ userId: artistFollows.userId });
  return rows.length > 0;
}

/**
 * Ends a follow and keeps its period, so the notifications it brought stay in the feed.
 * True when there was a follow to end.
 */
export async function endAlbumFollow(tx: Executor, userId: string, albumId: string): Promise<boolean> {
  const [ended] = await tx
    .delete(albumFollows)
    .where(and(eq(albumFollows.userId, userId), eq(albumFollows.albumId, albumId)))
    .returning({ startedAt: albumFollows.createdAt });
  if (!ended) return false;
  await tx
    .insert(albumFollowPeriods)
    .values({ userId, albumId, startedAt: ended.startedAt, endedAt: new Date() });
  return true;
}

export async function endArtistFollow(tx: Executor, userId: string, artistId: string): Promise<boolean> {
  const [ended] = await tx
    .delete(artistFollows)
    .where(and(eq(artistFollows.userId, userId), eq(artistFollows.artistId, artistId)))
    .returning({ startedAt: artistFollows.createdAt });
  if (!ended) return false;
  await tx
    .insert(artistFollowPeriods)
    .values({ userId, artistId, startedAt: ended.startedAt, endedAt: new Date() });
  return true;
}

export async function isFollowingAlbum(db: Executor, userId: string, albumId: string): Promise<boolean> {
  const [row] = await db
    .select({ albumId: albumFollows.albumId })
    .from(albumFollows)
    .where(and(eq(albumFollows.userId, userId), eq(albumFollows.albumId, albumId)));
  return row !== undefined;
}

/** When `userId` started following each of `albumIds` and `artistIds` (absent: not followed). */
export async function followedSince(
  db: Executor,
  userId: string,
  ids: { albumIds: string[]; artistIds: string[] },
): Promise<Map<string, Date>> {
  const [albumRows, artistRows] = await Promise.all([
    ids.albumIds.length
      ? db
          .select({ id: albumFollows.albumId, at: albumFollows.createdAt })
          .from(albumFollows)
          .where(and(eq(albumFollows.userId, userId), inArray(albumFollows.albumId, ids.albumIds)))
      : [],
    ids.artistIds.length
      ? db
          .select({ id: artistFollows.artistId, at: artistFollows.createdAt })
          .from(artistFollows)
          .where(and(eq(artistFollows.userId, userId), inArray(artistFollows.artistId, ids.artistIds)))
      : [],
  ]);
  return new Map([...albumRows, ...artistRows].map((r) => [r.id, r.at]));
}

/** Removes every follow of a user, returning what they followed (for the counters). */
export async function deleteAllFollowsOf(tx: Executor, userId: string) {
  const albumRows = await tx
    .delete(albumFollows)
    .where(eq(albumFollows.userId, userId))
    .returning({ id: albumFollows.albumId });
  const artistRows = await tx
    .delete(artistFollows)
    .where(eq(artistFollows.userId, userId))
    .returning({ id: artistFollows.artistId });
  return { albumIds: albumRows.map((r) => r.id), artistIds: artistRows.map((r) => r.id) };
}

/** Ids of the albums a user follows and may see, newest follow first (ties by id). */
export async function listFollowedAlbumIds(
  db: Executor,
  userId: string,
  visible: SQL | undefined,
  window: PageWindow,
): Promise<{ ids: string[]; total: number }> {
  const where = and(eq(albumFollows.userId, userId), visible);
  const [rows, [totals]] = await Promise.all([
    db
      .select({ id: albumFollows.albumId })
      .from(albumFollows)
      .innerJoin(albums, eq(albums.id, albumFollows.albumId))
      .where(where)
      .orderBy(desc(albumFollows.createdAt), asc(albumFollows.albumId))
      .limit(window.limit)
      .offset(window.offset),
    db
      .select({ total: count() })
      .from(albumFollows)
      .innerJoin(albums, eq(albums.id, albumFollows.albumId))
      .where(where),
  ]);
  return { ids: rows.map((r) => r.id), total: totals?.total ?? 0 };
}

/** The artists a user follows and may see, newest follow first (ties by id). */
export async function listFollowedArtists(
  db: Executor,
  userId: string,
  visible: SQL | undefined,
  window: PageWindow,
): Promise<{ rows: ArtistViewRow[]; total: number }> {
  const where = and(eq(artistFollows.userId, userId), visible);
  const [rows, [totals]] = await Promise.all([
    db
      .select({
        id: artists.id,
        name: artists.name,
        bio: artists.bio,
        imageUrl: artists.imageUrl,
        images: artists.images,
        genres: artists.genres,
        albumCount: artists.albumCount,
        followerCount: artists.followerCount,
        createdAt: artists.createdAt,
        isVisible: artists.isVisible,
      })
      .from(artistFollows)
      .innerJoin(artists, eq(artists.id, artistFollows.artistId))
      .where(where)
      .orderBy(desc(artistFollows.createdAt), asc(artistFollows.artistId))
      .limit(window.limit)
      .offset(window.offset),
    db
      .select({ total: count() })
      .from(artistFollows)
      .innerJoin(artists, eq(artists.id, artistFollows.artistId))
      .where(where),
  ]);
  return { rows, total: totals?.total ?? 0 };
}
