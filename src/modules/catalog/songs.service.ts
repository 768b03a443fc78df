import type { AuthUser } from '../../platform/auth.js';
import { isUniqueViolation, type Tx, withTx } from '../../platform/db.js';
import { ConflictError, ValidationError } from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import {
  albumNotFound,
  assertAdminForVisible,
  assertCanManage,
  canSee,
  getVisibleSongs,
  isAdmin,
  listScope,
  songNotFound,
} from './catalog.access.js';
import { ALBUM_LISTS_TAG, albumTag, SEARCH_TAG } from './catalog.cache.js';
import { assertYearRange, chooseSort, normaliseGenres, type Window } from './catalog.input.js';
import * as repo from './catalog.queries.js';
import type { SongSortField } from './catalog.repo.js';
import { MAX_SONG_IDS } from './catalog.schemas.js';
import { type CatalogDeps, normaliseQuery } from './catalog.service.js';
import { forViewer, type SongView, toSongView } from './catalog.views.js';

/** The textual form of an id, as the `uuid` format of path parameters checks it. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bounds an album detail (it carries every song) and keeps its total duration in range. */
const MAX_SONGS_PER_ALBUM = 500;

export interface SongListQuery extends Window {
  albumId?: string;
  artistId?: string;
  artist?: string;
  year?: number;
  yearFrom?: number;
  yearTo?: number;
  genre?: string[];
  q?: string;
  sort?: string;
  visibility?: 'all' | 'hidden';
}

export interface SongInput {
  title: string;
  durationMs: number;
  trackNumber?: number;
  genre?: string;
  explicit?: boolean;
  isPublic?: boolean;
  isVisible?: boolean;
}

export function createSongsService(deps: CatalogDeps) {
  const { db, cache } = deps;

  /** Locks the album of a song write, so its counters and track numbers change one at a time. */
  async function lockSongForWrite(tx: Tx, caller: AuthUser, id: string) {
    const song = await repo.findSong(tx, id);
    if (!song || !canSee(caller, song.listed, song.artistId)) throw songNotFound();
    assertCanManage(caller, song.artistId);
    const album = await repo.findAlbum(tx, song.albumId, { forUpdate: true });
    if (!album) throw songNotFound();
    return { song, album };
  }

  async function insertSongOrConflict(tx: Tx, values: Parameters<typeof repo.insertSong>[1]) {
    try {
      return await repo.insertSong(tx, values);
    } catch (error) {
      if (isUniqueViolation(error, 'songs_album_track_key')) throw trackNumberTaken(values.trackNumber);
      throw error;
    }
  }

  const trackNumberTaken = (n: number) =>
    new ConflictError(`Track ${n} already exists on this album`, 'TRACK_NUMBER_TAKEN');

  return {
    // ------------------------------------------------------------------ songs
    async addSong(caller: AuthUser, albumId: string, input: SongInput): Promise<SongView> {
      assertAdminForVisible(caller, input);
      const row = await withTx(db, async (tx) => {
        const album = await repo.findAlbum(tx, albumId, { forUpdate: true });
        if (!album || !canSee(caller, album.listed, album.artistId)) throw albumNotFound();
        assertCanManage(caller, album.artistId);
        if ((await repo.albumSongCount(tx, albumId)) >= MAX_SONGS_PER_ALBUM) {
          throw new ConflictError(`An album holds at most ${MAX_SONGS_PER_ALBUM} songs`, 'ALBUM_FULL');
        }
        if (
          input.trackNumber !== undefined &&
          (await repo.trackNumberTaken(tx, albumId, input.trackNumber))
        ) {
          throw trackNumberTaken(input.trackNumber);
        }
        const switches = { isPublic: input.isPublic ?? true, isVisible: input.isVisible ?? true };
        const songId = await insertSongOrConflict(tx, {
          albumId,
          artistId: album.artistId,
          artistName: album.artistName,
          releaseYear: album.releaseYear,
          ...switches,
          listed: repo.songListed(album.listed, switches),
          title: input.title.trim(),
          durationMs: input.durationMs,
          trackNumber: input.trackNumber ?? (await repo.nextTrackNumber(tx, albumId)),
          genre: input.genre?.trim() ?? album.genre,
          explicit: input.explicit ?? false,
        });
        await repo.refreshAlbumSongStats(tx, albumId);
        await recordEvent(tx, 'catalog.song_added', { songId, albumId, artistId: album.artistId });
        return (await repo.findSong(tx, songId))!;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG, albumTag(albumId));
      return forViewer(toSongView(row), isAdmin(caller));
    },

    async listSongs(caller: AuthUser | null, query: SongListQuery) {
      const scope = listScope(caller, query.visibility);
      assertYearRange(query.yearFrom, query.yearTo);
      const q = normaliseQuery(query.q);
      const { rows, total } = await repo.listSongs(db, {
        scope,
        albumId: query.albumId,
        artistId: query.artistId,
        artistName: query.artist?.trim().toLowerCase(),
        year: query.year,
        yearFrom: query.yearFrom,
        yearTo: query.yearTo,
        genres: normaliseGenres(query.genre),
        q,
        sort: chooseSort<SongSortField>(query.sort, q),
        limit: query.limit,
        offset: query.offset,
      });
      const admin = isAdmin(caller);
      return { items: rows.map((r) => forViewer(toSongView(r), admin)), total };
    },

    /**
     * `GET /songs?ids=a,b,...`: the songs the caller may open, in the order asked; unknown and
     * hidden ids are left out. A lookup, so it takes no other parameter.
     */
    async getSongsByIds(caller: AuthUser | null, idList: string, params: string[]): Promise<SongView[]> {
      const extra = params.filter((name) => name !== 'ids');
      if (extra.length) {
        throw new ValidationError(
          'ids is a lookup and takes no other parameter',
          extra.map((name) => ({ path: `/${name}`, message: 'cannot be combined with ids' })),
        );
      }
      const ids = idList.split(',');
      if (ids.length > MAX_SONG_IDS) {
        throw new ValidationError(`At most ${MAX_SONG_IDS} ids at once`, [
          { path: '/ids', message: `must hold at most ${MAX_SONG_IDS} ids` },
        ]);
      }
      const malformed = ids.findIndex((id) => !UUID.test(id));
      if (malformed >= 0) {
        throw new ValidationError('ids holds a malformed id', [
          { path: '/ids', message: `item ${malformed} is not a UUID` },
        ]);
      }
      return getVisibleSongs(db, ids, caller);
    },

    async getSong(caller: AuthUser | null, id: string): Promise<SongView> {
      const row = await repo.findSong(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw songNotFound();
      return forViewer(toSongView(row), isAdmin(caller));
    },

    async updateSong(caller: AuthUser, id: string, input: Partial<SongInput>): Promise<SongView> {
      assertAdminForVisible(caller, input);
      const { row, countersChanged } = await withTx(db, async (tx) => {
        const { song, album } = await lockSongForWrite(tx, caller, id);
        const switches = {
          isPublic: input.isPublic ?? song.isPublic,
          isVisible: input.isVisible ?? song.isVisible,
        };
        if (
          input.trackNumber !== undefined &&
          input.trackNumber !== song.trackNumber &&
          (await repo.trackNumberTaken(tx, song.albumId, input.trackNumber, id))
        ) {
          throw trackNumberTaken(input.trackNumber);
        }
        await repo.updateSong(tx, id, {
          ...(input.title !== undefined ? { title: input.title.trim() } : {}),
          ...(input.durationMs !== undefined ? { durationMs: input.durationMs } : {}),
          ...(input.trackNumber !== undefined ? { trackNumber: input.trackNumber } : {}),
          ...(input.genre !== undefined ? { genre: input.genre.trim() } : {}),
          ...(input.explicit !== undefined ? { explicit: input.explicit } : {}),
          ...switches,
          listed: repo.songListed(album.listed, switches),
        });
        const countersChanged =
          (input.durationMs !== undefined && input.durationMs !== song.durationMs) ||
          switches.isPublic !== song.isPublic ||
          switches.isVisible !== song.isVisible;
        if (countersChanged) await repo.refreshAlbumSongStats(tx, song.albumId);
        await recordEvent(tx, 'catalog.song_updated', {
          songId: id,
          albumId: song.albumId,
          artistId: song.artistId,
        });
        return { row: (await repo.findSong(tx, id))!, countersChanged };
      });
      // Album lists show the album's song count and total duration; nothing else of a song.
      // Search shows its title and whether it is listed.
      await cache.invalidate(
        SEARCH_TAG,
        albumTag(row.albumId),
        ...(countersChanged ? [ALBUM_LISTS_TAG] : []),
      );
      return forViewer(toSongView(row), isAdmin(caller));
    },

    async deleteSong(caller: AuthUser, id: string): Promise<void> {
      const albumId = await withTx(db, async (tx) => {
        const { song } = await lockSongForWrite(tx, caller, id);
        await repo.deleteSong(tx, id);
        await repo.refreshAlbumSongStats(tx, song.albumId);
        await recordEvent(tx, 'catalog.song_deleted', {
          songId: id,
          albumId: song.albumId,
          artistId: song.artistId,
        });
        return song.albumId;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG, albumTag(albumId));
    },

    /** A song the caller may manage (its media): 404 when they may not see it, 403 when not theirs. */
    async songToManage(caller: AuthUser, id: string): Promise<SongView> {
      const row = await repo.findSong(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw songNotFound();
      assertCanManage(caller, row.artistId);
      return toSongView(row);
    },
  };
}
