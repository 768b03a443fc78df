import type { AuthUser } from '../../platform/auth.js';
import { isUniqueViolation, withTx } from '../../platform/db.js';
import { ConflictError } from '../../platform/errors.js';
import type { AlbumsService } from './albums.service.js';
import {
  artistNotFound,
  assertAdminForVisible,
  assertCanManage,
  canSee,
  isAdmin,
  listScope,
} from './catalog.access.js';
import { ALBUM_LISTS_TAG, albumTag, artistTag, SEARCH_TAG } from './catalog.cache.js';
import { chooseSort, cleanGenres, normaliseGenres, type Window } from './catalog.input.js';
import * as repo from './catalog.queries.js';
import type { ArtistRow, ArtistSortField } from './catalog.repo.js';
import { type CatalogDeps, normaliseQuery } from './catalog.service.js';
import { type ArtistView, forViewer, toArtistView } from './catalog.views.js';

export interface ArtistListQuery extends Window {
  q?: string;
  genre?: string[];
  sort?: string;
  visibility?: 'all' | 'hidden';
}

export interface ArtistInput {
  name: string;
  bio?: string | null;
  imageUrl?: string | null;
  genres?: string[];
  isVisible?: boolean;
}

export function createArtistsService(deps: CatalogDeps, listAlbums: AlbumsService['listAlbums']) {
  const { db, cache } = deps;

  async function getArtistView(caller: AuthUser | null, id: string): Promise<ArtistView> {
    const view = await cache.read({ key: `catalog:artist:${id}`, tags: [artistTag(id)] }, async () => {
      const row = await repo.findArtist(db, id);
      return row ? toArtistView(row) : null;
    });
    if (!view || !canSee(caller, view.isVisible ?? true, view.id)) throw artistNotFound();
    return forViewer(view, isAdmin(caller));
  }

  /**
   * Runs an artist write, turning a clash with another artist's name (case-insensitive) into
   * 409: were two artists to share a name, `artistName` on album creation could link an
   * impostor who took a real artist's name.
   */
  async function nameChecked<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isUniqueViolation(error, 'artists_lower_name_key')) {
        throw new ConflictError('Another artist already has this name', 'ARTIST_NAME_TAKEN');
      }
      throw error;
    }
  }

  return {
    // ------------------------------------------------------------------ artists
    async listArtists(caller: AuthUser | null, query: ArtistListQuery) {
      const scope = listScope(caller, query.visibility);
      const q = normaliseQuery(query.q);
      const { rows, total } = await repo.listArtists(db, {
        scope,
        q,
        genres: normaliseGenres(query.genre),
        sort: chooseSort<ArtistSortField>(query.sort, q),
        limit: query.limit,
        offset: query.offset,
      });
      const admin = isAdmin(caller);
      return { items: rows.map((r) => forViewer(toArtistView(r), admin)), total };
    },

    getArtist: getArtistView,

    async listArtistAlbums(
      caller: AuthUser | null,
      artistId: string,
      query: Window & { sort?: string; visibility?: 'all' | 'hidden' },
    ) {
      await getArtistView(caller, artistId);
      return listAlbums(caller, { ...query, artistId });
    },

    async createArtist(caller: AuthUser, input: Omit<ArtistInput, 'isVisible'>) {
      const row = await nameChecked(() =>
        repo.insertArtist(db, {
          name: input.name.trim(),
          bio: input.bio,
          imageUrl: input.imageUrl,
          genres: cleanGenres(input.genres ?? []),
        }),
      );
      await cache.invalidate(SEARCH_TAG, artistTag(row.id));
      return forViewer(toArtistView(row), isAdmin(caller));
    },

    /** A rename or visibility change rewrites the artist's albums and songs in one transaction. */
    async updateArtist(caller: AuthUser, id: string, input: Partial<ArtistInput>) {
      assertAdminForVisible(caller, input);
      const { row, touchedAlbums } = await nameChecked(() =>
        withTx(db, async (tx) => {
          const current = await repo.findArtist(tx, id, { forUpdate: true });
          if (!current || !canSee(caller, current.isVisible, current.id)) throw artistNotFound();
          assertCanManage(caller, id);
          const row = await repo.updateArtist(tx, id, {
            ...(input.name !== undefined ? { name: input.name.trim() } : {}),
            ...(input.bio !== undefined ? { bio: input.bio } : {}),
            ...(input.imageUrl !== undefined ? { imageUrl: input.imageUrl } : {}),
            ...(input.genres !== undefined ? { genres: cleanGenres(input.genres) } : {}),
            ...(input.isVisible !== undefined ? { isVisible: input.isVisible } : {}),
          });
          const touchedAlbums = new Set<string>();
          if (row.name !== current.name) {
            for (const albumId of await repo.renameArtistContent(tx, id, row.name))
              touchedAlbums.add(albumId);
          }
          if (row.isVisible !== current.isVisible) {
            for (const albumId of await repo.relistArtistContent(tx, id, row.isVisible)) {
              touchedAlbums.add(albumId);
            }
          }
          return { row, touchedAlbums };
        }),
      );
      const albumTags = [...touchedAlbums].map(albumTag);
      await cache.invalidate(
        SEARCH_TAG,
        artistTag(id),
        ...(albumTags.length ? [ALBUM_LISTS_TAG, ...albumTags] : []),
      );
      return forViewer(toArtistView(row), isAdmin(caller));
    },

    async deleteArtist(id: string) {
      await withTx(db, async (tx) => {
        if (!(await repo.findArtist(tx, id, { forUpdate: true }))) throw artistNotFound();
        if (await repo.artistHasAlbums(tx, id)) {
          throw new ConflictError("Delete the artist's albums first", 'ARTIST_HAS_ALBUMS');
        }
        if (await repo.artistHasSongs(tx, id)) {
          throw new ConflictError("Delete the artist's songs on other albums first", 'ARTIST_HAS_SONGS');
        }
        await repo.deleteArtist(tx, id);
      });
      await cache.invalidate(SEARCH_TAG, artistTag(id));
    },

    /** An artist the caller may manage (its image). */
    async artistToManage(caller: AuthUser, id: string): Promise<ArtistRow> {
      const row = await repo.findArtist(db, id);
      if (!row || !canSee(caller, row.isVisible, row.id)) throw artistNotFound();
      assertCanManage(caller, row.id);
      return row;
    },

    /** Call after a committed change to an artist's counters (followers). */
    invalidateArtist(artistId: string): Promise<void> {
      return cache.invalidate(artistTag(artistId));
    },
  };
}
