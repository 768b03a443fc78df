import { LRUCache } from 'lru-cache';
import type { AuthUser } from '../../platform/auth.js';
import { derivedFromCached } from '../../platform/cache.js';
import { type Tx, withTx } from '../../platform/db.js';
import { ForbiddenError, ValidationError } from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import { createAlbumDirectory } from './album-directory.js';
import {
  albumNotFound,
  assertAdminForVisible,
  assertCanManage,
  canSee,
  detailScope,
  isAdmin,
  listScope,
  ownArtistId,
  scopeKey,
  unknownArtist,
} from './catalog.access.js';
import {
  ALBUM_LISTS_TAG,
  type AlbumRecord,
  albumTag,
  artistTag,
  loadAlbumRecord,
  SEARCH_TAG,
} from './catalog.cache.js';
import {
  assertReleaseDateInYear,
  assertYearRange,
  chooseSort,
  normaliseGenres,
  trimOrNull,
  type Window,
} from './catalog.input.js';
import * as repo from './catalog.queries.js';
import { releaseOnCreate, releaseOnUpdate, scheduleRelease } from './catalog.releases.js';
import type { AlbumRow, AlbumSortField, ArtistRow } from './catalog.repo.js';
import { type CatalogDeps, normaliseQuery } from './catalog.service.js';
import type { AlbumType } from './catalog.tables.js';
import {
  type AlbumDetailView,
  type AlbumView,
  albumForReader,
  forViewer,
  toAlbumView,
} from './catalog.views.js';

export interface AlbumListQuery extends Window {
  genre?: string[];
  artistId?: string;
  artist?: string;
  year?: number;
  yearFrom?: number;
  yearTo?: number;
  type?: AlbumType[];
  q?: string;
  sort?: string;
  visibility?: 'all' | 'hidden';
}

export interface AlbumInput {
  title: string;
  genre: string;
  releaseYear: number;
  releaseDate?: string | null;
  albumType?: AlbumType;
  label?: string | null;
  coverUrl?: string | null;
  isPublic?: boolean;
  isVisible?: boolean;
  publishAt?: string | null;
}

/** `make(key)` once per key object, kept for as long as the key lives. */
function oncePer<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}

export function createAlbumsService(deps: CatalogDeps) {
  const { db, cache } = deps;
  const clock = deps.clock ?? (() => new Date());
  // Browsed pages of listed albums, answered from memory while the album lists are unchanged.
  const directory = createAlbumDirectory(db, cache);
  // The users' view of a directory row, made once: the directory hands out the same rows until
  // it is built again (dates formatted per row and request were a tenth of a page's CPU). Frozen,
  // so that its JSON is written once too (`replyCachedPage`).
  const directoryView = oncePer(
    (row: AlbumRow): AlbumView => Object.freeze(forViewer(toAlbumView(row), false)),
  );
  const askedOnce = new LRUCache<string, true>({ max: 10_000 });

  /** The users' view, once per cached album (so repeat reads get the same object). */
  const publicAlbumView = oncePer((album: AlbumDetailView) => albumForReader(album, false));

  /** The album detail as `caller` sees it: admins all, the owner their hidden songs too. */
  function albumViewFor(caller: AuthUser | null, album: AlbumDetailView): AlbumDetailView {
    if (isAdmin(caller)) return album;
    if (ownArtistId(caller) === album.artist.id) return albumForReader(album, true);
    return publicAlbumView(album);
  }

  async function getAlbumRecord(caller: AuthUser | null, id: string): Promise<AlbumRecord> {
    const record = await cache.read({ key: `catalog:album:${id}`, tags: [albumTag(id)] }, () =>
      loadAlbumRecord(db, id),
    );
    if (!record || !canSee(caller, record.listed, record.album.artist.id)) throw albumNotFound();
    return record;
  }

  async function listAlbums(caller: AuthUser | null, query: AlbumListQuery) {
    const scope = listScope(caller, query.visibility);
    assertYearRange(query.yearFrom, query.yearTo);
    const admin = isAdmin(caller);
    const filter = {
      genres: normaliseGenres(query.genre),
      artistId: query.artistId,
      artistName: query.artist?.trim().toLowerCase(),
      year: query.year,
      yearFrom: query.yearFrom,
      yearTo: query.yearTo,
      types: query.type?.length ? [...new Set(query.type)].sort() : undefined,
      q: normaliseQuery(query.q),
    };
    const sort = chooseSort<AlbumSortField>(query.sort, filter.q);
    const window = { limit: query.limit, offset: query.offset };
    // The viewer kind and scope are part of the key: an admin's or owner's page is never
    // served to anyone else.
    const key = `catalog:albums:${admin ? 'admin' : 'user'}:${scopeKey(scope)}:${JSON.stringify({
      ...filter,
      sort,
      ...window,
    })}`;
    const page = { scope, ...filter, sort, ...window };
    // Admission: most browsed pages are asked for once, and the directory answers one in
    // microseconds, while caching it kept its 8 KB body alive (collector work for nothing). A
    // page the directory answers is kept from its second request on, when a repeat is likely.
    let keep = true;
    return cache.read({ key, tags: [ALBUM_LISTS_TAG], keep: () => keep }, async (stamp) => {
      const found = directory.page(stamp, page);
      if (found) {
        keep = askedOnce.has(key);
        askedOnce.set(key, true);
        return {
          items: found.rows.map((row) => (admin ? toAlbumView(row) : directoryView(row))),
          total: found.total,
        };
      }
      const { rows, total } = await repo.listAlbums(db, page);
      return { items: rows.map((r) => forViewer(toAlbumView(r), admin)), total };
    });
  }

  /**
   * The artist an album is created under, locked for the album-count update: by id, or by
   * name (linking the oldest artist of that name the caller may see, or creating it).
   */
  async function resolveAlbumArtist(
    tx: Tx,
    caller: AuthUser,
    input: { artistId?: string; artistName?: string },
  ): Promise<ArtistRow> {
    if (input.artistId) {
      const artist = await repo.findArtist(tx, input.artistId, { forUpdate: true });
      if (!artist || !canSee(caller, artist.isVisible, artist.id)) throw unknownArtist();
      assertCanManage(caller, artist.id);
      return artist;
    }
    const name = input.artistName!.trim();
    await repo.lockArtistName(tx, name);
    const found = await repo.findArtistByName(tx, name, detailScope(caller));
    if (found) {
      assertCanManage(caller, found.id);
      return (await repo.findArtist(tx, found.id, { forUpdate: true }))!;
    }
    if (!isAdmin(caller)) {
      throw new ForbiddenError('Artist accounts publish under their own artist only', 'NOT_OWNER');
    }
    return repo.insertArtist(tx, { name });
  }

  /** Locks an album's artist, then the album (the order every album write takes). */
  async function lockAlbumForWrite(tx: Tx, caller: AuthUser, id: string) {
    const current = await repo.findAlbum(tx, id);
    if (!current || !canSee(caller, current.listed, current.artistId)) throw albumNotFound();
    assertCanManage(caller, current.artistId);
    const artist = await repo.findArtist(tx, current.artistId, { forUpdate: true });
    const album = await repo.findAlbum(tx, id, { forUpdate: true });
    if (!artist || !album) throw albumNotFound();
    return { artist, album };
  }

  return {
    // ------------------------------------------------------------------ albums
    /** Browsed pages from memory (see album-directory.ts); tests build it with `refresh()`. */
    albumDirectory: directory,
    listAlbums,

    /** `followedByMe` is per caller, so it is added after the shared cached record is read. */
    /**
     * An album with its songs. For anonymous callers it is the same object for as long as the
     * cached record lives, so the route can serve it from the bytes it sent before.
     */
    async getAlbum(caller: AuthUser | null, id: string): Promise<AlbumDetailView> {
      const record = await getAlbumRecord(caller, id);
      const view = albumViewFor(caller, record.album);
      if (!caller) {
        // The anonymous view is made from the cached record alone: it is current while that is.
        derivedFromCached(view, record);
        return view;
      }
      return { ...view, followedByMe: (await deps.isFollowingAlbum?.(caller.id, id)) ?? false };
    },

    /** Album songs come from the cached album detail: one cache entry serves both reads. */
    async listAlbumSongs(caller: AuthUser | null, id: string, window: Window) {
      const { songs } = albumViewFor(caller, (await getAlbumRecord(caller, id)).album);
      return { items: songs.slice(window.offset, window.offset + window.limit), total: songs.length };
    },

    async createAlbum(caller: AuthUser, input: AlbumInput & { artistId?: string; artistName?: string }) {
      if (input.artistId && input.artistName) {
        throw new ValidationError('Send artistId or artistName, not both', [
          { path: '/artistName', message: 'cannot be combined with artistId' },
        ]);
      }
      if (!input.artistId && !input.artistName) {
        throw new ValidationError('An album needs artistId or artistName', [
          { path: '/artistId', message: 'is required unless artistName is given' },
        ]);
      }
      assertAdminForVisible(caller, input);
      assertReleaseDateInYear(input.releaseYear, input.releaseDate);
      const row = await withTx(db, async (tx) => {
        const artist = await resolveAlbumArtist(tx, caller, input);
        const isPublic = input.isPublic ?? true;
        const isVisible = input.isVisible ?? true;
        const release = releaseOnCreate(input.publishAt, clock());
        const row = await repo.insertAlbum(tx, {
          artistId: artist.id,
          artistName: artist.name,
          title: input.title.trim(),
          genre: input.genre.trim(),
          releaseYear: input.releaseYear,
          releaseDate: input.releaseDate ?? null,
          albumType: input.albumType ?? 'album',
          label: trimOrNull(input.label) ?? null,
          coverUrl: input.coverUrl ?? null,
          isPublic,
          isVisible,
          ...release,
          releasedAt: null,
          listed: repo.albumListed({ isPublic, isVisible, released: release.released }, artist.isVisible),
        });
        await repo.refreshArtistAlbumCount(tx, artist.id);
        // A scheduled album is announced by its release job, not now.
        if (release.released) {
          await recordEvent(tx, 'catalog.album_added', { albumId: row.id, artistId: artist.id });
        } else await scheduleRelease(tx, row.id, release.publishAt!);
        return row;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG, albumTag(row.id), artistTag(row.artistId));
      return forViewer(toAlbumView(row), isAdmin(caller));
    },

    async updateAlbum(caller: AuthUser, id: string, input: Partial<AlbumInput>) {
      assertAdminForVisible(caller, input);
      const row = await withTx(db, async (tx) => {
        const { artist, album } = await lockAlbumForWrite(tx, caller, id);
        const isPublic = input.isPublic ?? album.isPublic;
        const isVisible = input.isVisible ?? album.isVisible;
        const release = releaseOnUpdate(album, input.publishAt, clock());
        const releasedNow = release.released && !album.released;
        const listed = repo.albumListed(
          { isPublic, isVisible, released: release.released },
          artist.isVisible,
        );
        assertReleaseDateInYear(
          input.releaseYear ?? album.releaseYear,
          input.releaseDate === undefined ? album.releaseDate : input.releaseDate,
        );
        const row = await repo.updateAlbum(tx, id, {
          ...(input.title !== undefined ? { title: input.title.trim() } : {}),
          ...(input.genre !== undefined ? { genre: input.genre.trim() } : {}),
          ...(input.releaseYear !== undefined ? { releaseYear: input.releaseYear } : {}),
          ...(input.releaseDate !== undefined ? { releaseDate: input.releaseDate } : {}),
          ...(input.albumType !== undefined ? { albumType: input.albumType } : {}),
          ...(input.label !== undefined ? { label: trimOrNull(input.label) } : {}),
          ...(input.coverUrl !== undefined ? { coverUrl: input.coverUrl } : {}),
          isPublic,
          isVisible,
          ...release,
          ...(releasedNow ? { releasedAt: clock() } : {}),
          listed,
        });
        if (listed !== album.listed || row.releaseYear !== album.releaseYear) {
          await repo.copyAlbumToSongs(tx, id, row);
        }
        if (isPublic !== album.isPublic || isVisible !== album.isVisible || releasedNow) {
          await repo.refreshArtistAlbumCount(tx, artist.id);
        }
        await recordEvent(tx, 'catalog.album_updated', { albumId: id, artistId: artist.id });
        if (releasedNow) await recordEvent(tx, 'catalog.album_added', { albumId: id, artistId: artist.id });
        else if (!release.released && release.publishAt?.getTime() !== album.publishAt?.getTime()) {
          await scheduleRelease(tx, id, release.publishAt!);
        }
        return row;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG, albumTag(id), artistTag(row.artistId));
      return forViewer(toAlbumView(row), isAdmin(caller));
    },

    /** Its songs go with it (foreign key cascade); `album_deleted` stands for them too. */
    async deleteAlbum(caller: AuthUser, id: string) {
      const artistId = await withTx(db, async (tx) => {
        const { artist } = await lockAlbumForWrite(tx, caller, id);
        await repo.deleteAlbum(tx, id);
        await repo.refreshArtistAlbumCount(tx, artist.id);
        await recordEvent(tx, 'catalog.album_deleted', { albumId: id, artistId: artist.id });
        return artist.id;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG, albumTag(id), artistTag(artistId));
    },

    /** An album the caller may manage (its cover): 404 when they may not see it, 403 when not theirs. */
    async albumToManage(caller: AuthUser, id: string): Promise<AlbumRow> {
      const row = await repo.findAlbum(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw albumNotFound();
      assertCanManage(caller, row.artistId);
      return row;
    },

    async getAlbumView(caller: AuthUser | null, id: string): Promise<AlbumView> {
      const row = await repo.findAlbum(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw albumNotFound();
      return forViewer(toAlbumView(row), isAdmin(caller));
    },

    /** Call after a committed change to albums' counters (followers, plays); lists bump once. */
    invalidateAlbum(...albumIds: string[]): Promise<void> {
      return cache.invalidate(ALBUM_LISTS_TAG, ...albumIds.map(albumTag));
    },
  };
}

export type AlbumsService = ReturnType<typeof createAlbumsService>;
