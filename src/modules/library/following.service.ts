import type { AuthUser } from '../../platform/auth.js';
import { type Db, type Tx, withTx } from '../../platform/db.js';
import { NotFoundError } from '../../platform/errors.js';
import {
  type AlbumView,
  type ArtistView,
  albumVisibleTo,
  artistViewFor,
  artistVisibleTo,
  type CatalogService,
  getVisibleAlbums,
  incrementAlbumFollowers,
  incrementArtistFollowers,
} from '../catalog/index.js';
import * as repo from './following.repo.js';

export interface FollowingDeps {
  db: Db;
  /** Cached album and artist reads show follower counts, so a follow invalidates them. */
  catalog: Pick<CatalogService, 'invalidateAlbum' | 'invalidateArtist'>;
  /** A follow or unfollow changes the user's notification feed (its cached pages). */
  invalidateFeedOf?: (userId: string) => Promise<void>;
}

interface PageWindow {
  limit: number;
  offset: number;
}

const albumNotFound = () => new NotFoundError('Album', 'ALBUM_NOT_FOUND');
const artistNotFound = () => new NotFoundError('Artist', 'ARTIST_NOT_FOUND');

/**
 * Follows of albums and artists. Each follow or unfollow that really changes something moves
 * the catalog's follower counter in the same transaction, then invalidates the cached reads
 * that show it. Notifications need nothing here: they are derived from follows when read.
 */
export function createFollowingService(deps: FollowingDeps) {
  const { db, catalog } = deps;
  const feedChanged = (userId: string) => deps.invalidateFeedOf?.(userId);

  return {
    async followAlbum(user: AuthUser, albumId: string): Promise<void> {
      const changed = await withTx(db, async (tx) => {
        const album = await repo.lockAlbum(tx, albumId, albumVisibleTo(user));
        if (!album.visible) throw albumNotFound();
        const inserted = await repo.insertAlbumFollow(tx, user.id, albumId);
        if (inserted) await incrementAlbumFollowers(tx, albumId, 1);
        return inserted;
      });
      if (changed) await Promise.all([catalog.invalidateAlbum(albumId), feedChanged(user.id)]);
    },

    /** Anyone may end a follow they hold, even of an album hidden since; otherwise 404 as for a follow. */
    async unfollowAlbum(user: AuthUser, albumId: string): Promise<void> {
      const changed = await withTx(db, async (tx) => {
        const album = await repo.lockAlbum(tx, albumId, albumVisibleTo(user));
        if (!album.exists) throw albumNotFound();
        const ended = await repo.endAlbumFollow(tx, user.id, albumId);
        if (!ended && !album.visible) throw albumNotFound();
        if (ended) await incrementAlbumFollowers(tx, albumId, -1);
        return ended;
      });
      if (changed) await Promise.all([catalog.invalidateAlbum(albumId), feedChanged(user.id)]);
    },

    async followArtist(user: AuthUser, artistId: string): Promise<void> {
      const changed = await withTx(db, async (tx) => {
        const artist = await repo.lockArtist(tx, artistId, artistVisibleTo(user));
        if (!artist.visible) throw artistNotFound();
        const inserted = await repo.insertArtistFollow(tx, user.id, artistId);
        if (inserted) await incrementArtistFollowers(tx, artistId, 1);
        return inserted;
      });
      if (changed) await Promise.all([catalog.invalidateArtist(artistId), feedChanged(user.id)]);
    },

    async unfollowArtist(user: AuthUser, artistId: string): Promise<void> {
      const changed = await withTx(db, async (tx) => {
        const artist = await repo.lockArtist(tx, artistId, artistVisibleTo(user));
        if (!artist.exists) throw artistNotFound();
        const ended = await repo.endArtistFollow(tx, user.id, artistId);
        if (!ended && !artist.visible) throw artistNotFound();
        if (ended) await incrementArtistFollowers(tx, artistId, -1);
        return ended;
      });
      if (changed) await Promise.all([catalog.invalidateArtist(artistId), feedChanged(user.id)]);
    },

    isFollowingAlbum: (userId: string, albumId: string) => repo.isFollowingAlbum(db, userId, albumId),

    /**
     * For an account being deleted, in its transaction: its follows go and the counters they
     * held drop with them (the cascade alone would leave follower counts too high). Returns the
     * cache invalidation to run after commit.
     */
    async releaseFollowsOf(tx: Tx, userId: string): Promise<() => Promise<void>> {
      const { albumIds, artistIds } = await repo.deleteAllFollowsOf(tx, userId);
      for (const albumId of albumIds) await incrementAlbumFollowers(tx, albumId, -1);
      for (const artistId of artistIds) await incrementArtistFollowers(tx, artistId, -1);
      return async () => {
        for (const albumId of albumIds) await catalog.invalidateAlbum(albumId);
        for (const artistId of artistIds) await catalog.invalidateArtist(artistId);
      };
    },

    async listAlbums(user: AuthUser, window: PageWindow): Promise<{ items: AlbumView[]; total: number }> {
      const { ids, total } = await repo.listFollowedAlbumIds(db, user.id, albumVisibleTo(user), window);
      return { items: await getVisibleAlbums(db, ids, user), total };
    },

    async listArtists(user: AuthUser, window: PageWindow): Promise<{ items: ArtistView[]; total: number }> {
      const { rows, total } = await repo.listFollowedArtists(db, user.id, artistVisibleTo(user), window);
      return { items: rows.map((row) => artistViewFor(row, user)), total };
    },
  };
}

export type FollowingService = ReturnType<typeof createFollowingService>;
