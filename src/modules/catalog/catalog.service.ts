import type { AuthUser } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import { type Db, type Executor, isUniqueViolation, type Tx, withTx } from '../../platform/db.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import { type Image, parseSort } from '../../platform/http.js';
import type {
  AlbumRow,
  AlbumSortField,
  ArtistRow,
  ArtistSortField,
  Scope,
  SongRow,
  SongSortField,
  SortOrRelevance,
} from './catalog.repo.js';
import * as repo from './catalog.repo.js';
import { MAX_SONG_IDS, type SearchType } from './catalog.schemas.js';
import type { AlbumType, SongAudio } from './catalog.tables.js';

/** The textual form of an id, as the `uuid` format of path parameters checks it. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bounds an album detail (it carries every song) and keeps its total duration in range. */
const MAX_SONGS_PER_ALBUM = 500;

export interface ArtistView {
  id: string;
  name: string;
  bio: string | null;
  imageUrl: string | null;
  images: Image[];
  genres: string[];
  albumCount: number;
  followerCount: number;
  createdAt: string;
  /** Admins only. */
  isVisible?: boolean;
}

export interface SongView {
  id: string;
  title: string;
  album: { id: string; title: string };
  artist: { id: string; name: string };
  trackNumber: number;
  durationMs: number;
  genre: string;
  explicit: boolean;
  playCount: number;
  audio: SongAudio;
  isPublic: boolean;
  /** Admins only. */
  isVisible?: boolean;
  createdAt: string;
}

export interface AlbumView {
  id: string;
  title: string;
  artist: { id: string; name: string };
  genre: string;
  releaseYear: number;
  releaseDate: string | null;
  albumType: AlbumType;
  coverUrl: string | null;
  images: Image[];
  label: string | null;
  isPublic: boolean;
  /** Admins only. */
  isVisible?: boolean;
  songCount: number;
  durationMs: number;
  followerCount: number;
  popularity: number;
  createdAt: string;
  updatedAt: string;
}

export interface AlbumDetailView extends AlbumView {
  songs: SongView[];
  /** Only for signed-in callers. */
  followedByMe?: boolean;
}

/** The Playlist shape of API.md as search returns it. */
export interface PlaylistSummaryView {
  id: string;
  name: string;
  description: string | null;
  owner: { id: string; displayName: string };
  isPublic: boolean;
  trackCount: number;
  durationMs: number;
  followerCount: number;
  createdAt: string;
  updatedAt: string;
}

/** Playlist search, supplied by the playlists module; without it search finds no playlists. */
export type PlaylistSearch = (
  caller: AuthUser | null,
  query: { q: string; limit: number; offset: number },
) => Promise<{ items: PlaylistSummaryView[]; total: number }>;

export interface CatalogDeps {
  db: Db;
  cache: Cache;
  searchPlaylists?: PlaylistSearch;
  /** From the following module, for `followedByMe` on album detail; absent: never followed. */
  isFollowingAlbum?: (userId: string, albumId: string) => Promise<boolean>;
}

interface Window {
  limit: number;
  offset: number;
}

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

// ---------------------------------------------------------------------------------------------
// Views

/** The columns an artist view is made of, so other modules can select just these. */
export type ArtistViewRow = Pick<
  ArtistRow,
  | 'id'
  | 'name'
  | 'bio'
  | 'imageUrl'
  | 'images'
  | 'genres'
  | 'albumCount'
  | 'followerCount'
  | 'createdAt'
  | 'isVisible'
>;

function toArtistView(row: ArtistViewRow): ArtistView {
  return {
    id: row.id,
    name: row.name,
    bio: row.bio,
    imageUrl: row.imageUrl,
    images: row.images,
    genres: row.genres,
    albumCount: row.albumCount,
    followerCount: row.followerCount,
    createdAt: row.createdAt.toISOString(),
    isVisible: row.isVisible,
  };
}

function toAlbumView(row: AlbumRow): AlbumView {
  return {
    id: row.id,
    title: row.title,
    artist: { id: row.artistId, name: row.artistName },
    genre: row.genre,
    releaseYear: row.releaseYear,
    releaseDate: row.releaseDate,
    albumType: row.albumType,
    coverUrl: row.coverUrl,
    images: row.images,
    label: row.label,
    isPublic: row.isPublic,
    isVisible: row.isVisible,
    songCount: row.songCount,
    durationMs: row.durationMs,
    followerCount: row.followerCount,
    popularity: row.popularity,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toSongView(row: SongRow): SongView {
  return {
    id: row.id,
    title: row.title,
    album: { id: row.albumId, title: row.albumTitle },
    artist: { id: row.artistId, name: row.artistName },
    trackNumber: row.trackNumber,
    durationMs: row.durationMs,
    genre: row.genre,
    explicit: row.explicit,
    playCount: row.playCount,
    audio: row.audio,
    isPublic: row.isPublic,
    isVisible: row.isVisible,
    createdAt: row.createdAt.toISOString(),
  };
}

/** `isVisible` is the admin's switch and only admins see it. */
function forViewer<T extends { isVisible?: boolean }>(view: T, admin: boolean): T {
  if (admin) return view;
  const { isVisible: _adminOnly, ...rest } = view;
  return rest as T;
}

/**
 * Whether users see a song of an album they may see: its own switches (the cached album record
 * holds the admin's view, so `isVisible` is there).
 */
const songShown = (song: SongView) => song.isPublic && song.isVisible === true;

/**
 * An album detail as a non-admin sees it: without `isVisible`, and (unless `owner`, who sees
 * their own hidden songs as they see their hidden albums) without the songs hidden from users.
 */
function albumForReader(album: AlbumDetailView, owner: boolean): AlbumDetailView {
  const songs = owner ? album.songs : album.songs.filter(songShown);
  return { ...forViewer(album, false), songs: songs.map((song) => forViewer(song, false)) };
}

// ---------------------------------------------------------------------------------------------
// Callers, visibility and ownership

const isAdmin = (caller: AuthUser | null) => caller?.role === 'admin';
const ownArtistId = (caller: AuthUser | null) => (caller?.role === 'artist' ? caller.artistId : null);

/** What a caller may open by id: admins everything, an artist also their own hidden content. */
function detailScope(caller: AuthUser | null): Scope {
  if (isAdmin(caller)) return { kind: 'all' };
  const own = ownArtistId(caller);
  return own ? { kind: 'own', artistId: own } : { kind: 'listed' };
}

/** What a list shows: like a user's by default, even for admins, unless an admin asks otherwise. */
function listScope(caller: AuthUser | null, visibility: 'all' | 'hidden' | undefined): Scope {
  if (visibility) {
    if (!caller) throw new UnauthorizedError('The visibility filter is for admins; sign in');
    if (!isAdmin(caller)) {
      throw new ForbiddenError('Only admins may filter by visibility', 'INSUFFICIENT_ROLE');
    }
    return { kind: visibility };
  }
  const own = ownArtistId(caller);
  return own ? { kind: 'own', artistId: own } : { kind: 'listed' };
}

function scopeKey(scope: Scope): string {
  return scope.kind === 'own' ? `own:${scope.artistId}` : scope.kind;
}

function canSee(caller: AuthUser | null, listed: boolean, artistId: string): boolean {
  return listed || isAdmin(caller) || ownArtistId(caller) === artistId;
}

/** Admins manage everything; an artist account only its own artist's content. */
function assertCanManage(caller: AuthUser | null, artistId: string): void {
  if (isAdmin(caller) || ownArtistId(caller) === artistId) return;
  throw new ForbiddenError("Artist accounts manage only their own artist's content", 'NOT_OWNER');
}

function assertAdminForVisible(caller: AuthUser | null, input: { isVisible?: boolean }): void {
  if (input.isVisible !== undefined && !isAdmin(caller)) {
    throw new ForbiddenError('Only admins may change isVisible', 'ADMIN_ONLY_FIELD');
  }
}

const albumNotFound = () => new NotFoundError('Album', 'ALBUM_NOT_FOUND');
const artistNotFound = () => new NotFoundError('Artist', 'ARTIST_NOT_FOUND');
const songNotFound = () => new NotFoundError('Song', 'SONG_NOT_FOUND');
const unknownArtist = () =>
  new ValidationError(
    'No artist you may see has this id',
    [{ path: '/artistId', message: 'names no artist' }],
    'UNKNOWN_ARTIST',
  );

// ---------------------------------------------------------------------------------------------
// Input normalisation

/** Lower-cased and space-collapsed: matching ignores case, so cache keys should too. */
/**
 * A search as matched: lower case, single spaces, the first MAX_QUERY_WORDS words. Forty short
 * words cost eleven times one word in trigram and prefix matching; eight cost a few times.
 */
const normaliseQuery = (q: string | undefined) =>
  q?.trim().split(/\s+/).slice(0, repo.MAX_QUERY_WORDS).join(' ').toLowerCase() || undefined;

function normaliseGenres(genres: string[] | undefined): string[] | undefined {
  if (!genres?.length) return undefined;
  return [...new Set(genres.map((g) => g.trim().toLowerCase()))].sort();
}

/** Genres as written, trimmed, without case-insensitive duplicates. */
function cleanGenres(genres: string[]): string[] {
  const seen = new Set<string>();
  return genres
    .map((g) => g.trim())
    .filter((g) => {
      const key = g.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

const trimOrNull = (value: string | null | undefined) => (value == null ? value : value.trim());

function chooseSort<F extends string>(sort: string | undefined, q: string | undefined): SortOrRelevance<F> {
  if (!sort && q) return 'relevance';
  return parseSort<F>(sort, '-createdAt' as `-${F}`);
}

function assertYearRange(yearFrom: number | undefined, yearTo: number | undefined): void {
  if (yearFrom !== undefined && yearTo !== undefined && yearFrom > yearTo) {
    throw new ValidationError('yearFrom is after yearTo', [
      { path: '/yearFrom', message: 'must not be after yearTo' },
    ]);
  }
}

function assertReleaseDateInYear(releaseYear: number, releaseDate: string | null | undefined): void {
  if (releaseDate && Number(releaseDate.slice(0, 4)) !== releaseYear) {
    throw new ValidationError('releaseDate is not in releaseYear', [
      { path: '/releaseDate', message: 'must fall in releaseYear' },
    ]);
  }
}

// ---------------------------------------------------------------------------------------------
// Cache

/** Every cached album list depends on this tag. */
export const ALBUM_LISTS_TAG = 'catalog:albums';
const albumTag = (id: string) => `catalog:album:${id}`;
const artistTag = (id: string) => `catalog:artist:${id}`;

/**
 * What the album-detail cache holds: the admin's view plus `listed`, so one entry serves every
 * caller and visibility is decided per request, after the cache.
 */
interface AlbumRecord {
  album: AlbumDetailView;
  listed: boolean;
}

async function loadAlbumRecord(db: Executor, id: string): Promise<AlbumRecord | null> {
  const row = await repo.findAlbum(db, id);
  if (!row) return null;
  const songs = await repo.listAlbumSongs(db, id);
  return { album: { ...toAlbumView(row), songs: songs.map(toSongView) }, listed: row.listed };
}

// ---------------------------------------------------------------------------------------------
// Functions other modules use directly (through index.ts)

/** Song views for `ids` that `caller` may open, in the order of `ids`; others are left out. */
export async function getVisibleSongs(db: Executor, ids: string[], caller: AuthUser | null) {
  const rows = await repo.findSongsByIds(db, [...new Set(ids)], detailScope(caller));
  const admin = isAdmin(caller);
  const byId = new Map(rows.map((r) => [r.id, forViewer(toSongView(r), admin)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Album views for `ids` that `caller` may open, in the order of `ids`; others are left out. */
export async function getVisibleAlbums(db: Executor, ids: string[], caller: AuthUser | null) {
  const rows = await repo.findAlbumsByIds(db, [...new Set(ids)], detailScope(caller));
  const admin = isAdmin(caller);
  const byId = new Map(rows.map((r) => [r.id, forViewer(toAlbumView(r), admin)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** SQL condition on `albums` for "this caller may open it" (undefined: no restriction). */
export const albumVisibleTo = (caller: AuthUser | null) => repo.albumInScope(detailScope(caller));

/** SQL condition on `artists` for "this caller may open it" (undefined: no restriction). */
export const artistVisibleTo = (caller: AuthUser | null) => repo.artistInScope(detailScope(caller));

/** The API view of an artist row as this caller may see it (`isVisible` for admins only). */
export const artistViewFor = (row: ArtistViewRow, caller: AuthUser | null): ArtistView =>
  forViewer(toArtistView(row), isAdmin(caller));

/** SQL condition on `songs` for "this caller may open it" (undefined: no restriction). */
export const songVisibleTo = (caller: AuthUser | null) => repo.songInScope(detailScope(caller));

/** What `songVisibleTo` decides, as values: for one statement that serves several callers. */
export interface SongScope {
  seesAll: boolean;
  ownArtistId: string | null;
}

export function songScopeOf(caller: AuthUser | null): SongScope {
  const scope = detailScope(caller);
  return { seesAll: scope.kind === 'all', ownArtistId: scope.kind === 'own' ? scope.artistId : null };
}

// ---------------------------------------------------------------------------------------------
// The service

export function createCatalogService(deps: CatalogDeps) {
  const { db, cache } = deps;

  async function getArtistView(caller: AuthUser | null, id: string): Promise<ArtistView> {
    const view = await cache.read({ key: `catalog:artist:${id}`, tags: [artistTag(id)] }, async () => {
      const row = await repo.findArtist(db, id);
      return row ? toArtistView(row) : null;
    });
    if (!view || !canSee(caller, view.isVisible ?? true, view.id)) throw artistNotFound();
    return forViewer(view, isAdmin(caller));
  }

  /** The users' view, once per cached album (so repeat reads get the same object). */
  const publicAlbumViews = new WeakMap<AlbumDetailView, AlbumDetailView>();
  function publicAlbumView(album: AlbumDetailView): AlbumDetailView {
    let view = publicAlbumViews.get(album);
    if (!view) {
      view = albumForReader(album, false);
      publicAlbumViews.set(album, view);
    }
    return view;
  }

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
    return cache.read({ key, tags: [ALBUM_LISTS_TAG] }, async () => {
      const { rows, total } = await repo.listAlbums(db, { scope, ...filter, sort, ...window });
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
      await cache.invalidate(artistTag(row.id));
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
      await cache.invalidate(artistTag(id), ...(albumTags.length ? [ALBUM_LISTS_TAG, ...albumTags] : []));
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
      await cache.invalidate(artistTag(id));
    },

    // ------------------------------------------------------------------ albums
    listAlbums,

    /** `followedByMe` is per caller, so it is added after the shared cached record is read. */
    /**
     * An album with its songs. For anonymous callers it is the same object for as long as the
     * cached record lives, so the route can serve it from the bytes it sent before.
     */
    async getAlbum(caller: AuthUser | null, id: string): Promise<AlbumDetailView> {
      const { album } = await getAlbumRecord(caller, id);
      const view = albumViewFor(caller, album);
      if (!caller) return view;
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
          listed: isPublic && isVisible && artist.isVisible,
        });
        await repo.refreshArtistAlbumCount(tx, artist.id);
        await recordEvent(tx, 'catalog.album_added', { albumId: row.id, artistId: artist.id });
        return row;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, albumTag(row.id), artistTag(row.artistId));
      return forViewer(toAlbumView(row), isAdmin(caller));
    },

    async updateAlbum(caller: AuthUser, id: string, input: Partial<AlbumInput>) {
      assertAdminForVisible(caller, input);
      const row = await withTx(db, async (tx) => {
        const { artist, album } = await lockAlbumForWrite(tx, caller, id);
        const isPublic = input.isPublic ?? album.isPublic;
        const isVisible = input.isVisible ?? album.isVisible;
        const listed = isPublic && isVisible && artist.isVisible;
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
          listed,
        });
        if (listed !== album.listed || row.releaseYear !== album.releaseYear) {
          await repo.copyAlbumToSongs(tx, id, row);
        }
        if (isPublic !== album.isPublic || isVisible !== album.isVisible) {
          await repo.refreshArtistAlbumCount(tx, artist.id);
        }
        await recordEvent(tx, 'catalog.album_updated', { albumId: id, artistId: artist.id });
        return row;
      });
      await cache.invalidate(ALBUM_LISTS_TAG, albumTag(id), artistTag(row.artistId));
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
      await cache.invalidate(ALBUM_LISTS_TAG, albumTag(id), artistTag(artistId));
    },

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
      await cache.invalidate(ALBUM_LISTS_TAG, albumTag(albumId));
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
      await cache.invalidate(albumTag(row.albumId), ...(countersChanged ? [ALBUM_LISTS_TAG] : []));
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
      await cache.invalidate(ALBUM_LISTS_TAG, albumTag(albumId));
    },

    // ------------------------------------------------------------------ search
    /** Each requested type is one relevance-ordered page; playlists come from `searchPlaylists`. */
    async search(caller: AuthUser | null, query: { q: string; types: SearchType[] } & Window) {
      const scope = listScope(caller, undefined);
      const admin = isAdmin(caller);
      const q = normaliseQuery(query.q) ?? '';
      const window = { limit: query.limit, offset: query.offset };
      const searches = {
        album: async () => {
          const { rows, total } = await repo.listAlbums(db, { scope, q, sort: 'relevance', ...window });
          return { albums: { items: rows.map((r) => forViewer(toAlbumView(r), admin)), total } };
        },
        artist: async () => {
          const { rows, total } = await repo.listArtists(db, { scope, q, sort: 'relevance', ...window });
          return { artists: { items: rows.map((r) => forViewer(toArtistView(r), admin)), total } };
        },
        song: async () => {
          const { rows, total } = await repo.listSongs(db, { scope, q, sort: 'relevance', ...window });
          return { songs: { items: rows.map((r) => forViewer(toSongView(r), admin)), total } };
        },
        playlist: async () => ({
          playlists: deps.searchPlaylists
            ? await deps.searchPlaylists(caller, { q, ...window })
            : { items: [], total: 0 },
        }),
      } satisfies Record<SearchType, () => Promise<object>>;
      const result = {};
      for (const type of new Set(query.types)) Object.assign(result, await searches[type]());
      return result as Partial<{
        albums: { items: AlbumView[]; total: number };
        artists: { items: ArtistView[]; total: number };
        songs: { items: SongView[]; total: number };
        playlists: { items: PlaylistSummaryView[]; total: number };
      }>;
    },

    // ------------------------------------------------------------------ for other modules
    /** A song the caller may manage (its media): 404 when they may not see it, 403 when not theirs. */
    async songToManage(caller: AuthUser, id: string): Promise<SongView> {
      const row = await repo.findSong(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw songNotFound();
      assertCanManage(caller, row.artistId);
      return toSongView(row);
    },

    /** An album the caller may manage (its cover): 404 when they may not see it, 403 when not theirs. */
    async albumToManage(caller: AuthUser, id: string): Promise<AlbumRow> {
      const row = await repo.findAlbum(db, id);
      if (!row || !canSee(caller, row.listed, row.artistId)) throw albumNotFound();
      assertCanManage(caller, row.artistId);
      return row;
    },

    /** An artist the caller may manage (its image). */
    async artistToManage(caller: AuthUser, id: string): Promise<ArtistRow> {
      const row = await repo.findArtist(db, id);
      if (!row || !canSee(caller, row.isVisible, row.id)) throw artistNotFound();
      assertCanManage(caller, row.id);
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

    /** Call after a committed change to an artist's counters (followers). */
    invalidateArtist(artistId: string): Promise<void> {
      return cache.invalidate(artistTag(artistId));
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
