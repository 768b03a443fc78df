import { and, asc, desc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../../platform/auth.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db.js';
import type { Image } from '../../platform/http.js';
import {
  type AlbumView,
  type ArtistView,
  albums as albumTable,
  albumVisibleTo,
  type CatalogService,
  getVisibleAlbums,
  getVisibleSongs,
  type SongView,
  songs as songTable,
  songVisibleTo,
} from '../catalog/index.js';
import type { DiscoveryService } from '../discovery/index.js';
import { type UserRow, users } from '../identity/index.js';
import { type FollowingService, followedSince, type PlaylistService } from '../library/index.js';
import { CONTENT_TYPES, type MediaService, type Quality, sendFile } from '../media/index.js';
import type { Params } from './subsonic.auth.js';
import { ErrorCode, missingParameter, notFound, type Payload, SubsonicError } from './subsonic.response.js';
import { nowPlaying as nowPlayingTable, songStars } from './subsonic.tables.js';
import { albumEntry, artistEntry, type SongContext, songEntry } from './subsonic.views.js';

export interface SubsonicDeps {
  db: Db;
  catalog: CatalogService;
  following: FollowingService;
  playlists: PlaylistService;
  discovery: DiscoveryService;
  media: MediaService;
  /** Business time: how long a scrobbled song shows as now playing. */
  clock: Clock;
}

/** One authenticated Subsonic call. */
export interface Call {
  caller: AuthUser;
  user: UserRow;
  params: Params;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** A handler answers with a payload for the envelope, or `SENT` when it sent a file itself. */
export const SENT = Symbol('sent');
type Handler = (call: Call) => Promise<Payload | typeof SENT>;

/** Clients sync libraries a page at a time; one page is at most this long. */
const MAX_PAGE = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOW_PLAYING_MS = 10 * 60 * 1000;
const MUSIC_FOLDER = { id: 1, name: 'Backbeat' };
const IMAGE_NAME = /\/media\/images\/([0-9a-f]{64})-([0-9]{2,3})\.jpg$/;

function required(params: Params, name: string): string {
  const value = params.get(name);
  if (value === undefined || value === '') throw missingParameter(name);
  return value;
}

/** Anything that is not one of our ids names nothing (70), never a database error. */
function asId(value: string): string {
  if (!UUID.test(value)) throw notFound('Item');
  return value.toLowerCase();
}

const idOf = (params: Params, name: string) => asId(required(params, name));

/** One value of parameter `name` as a non-negative integer; anything else is an error (code 0). */
function nonNegative(raw: string, name: string): number {
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new SubsonicError(0, `Parameter ${name} must be a non-negative integer`);
  }
  return n;
}

function integer(params: Params, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return fallback;
  return Math.min(nonNegative(raw, name), max);
}

/** The bounds `/api/v1/playlists` holds a playlist's name and description to. */
const PLAYLIST_NAME_MAX = 100;
const PLAYLIST_COMMENT_MAX = 300;

/**
 * Text a player names or describes a playlist with, held to the same bounds as the REST API
 * (a name is never blank); a NUL character, which the database cannot store, is refused too.
 */
function playlistText(value: string, name: string, max: number, blankAllowed: boolean): string {
  if ((!blankAllowed && !/\S/.test(value)) || value.length > max || value.includes('\u0000')) {
    throw new SubsonicError(
      ErrorCode.generic,
      `Parameter ${name} must be ${blankAllowed ? 'at most' : '1 to'} ${max} characters, without NUL`,
    );
  }
  return value;
}

/** The MP3 rendition for a bit-rate cap: the highest that fits (0 or none: no cap). */
function qualityFor(maxBitRate: number): Quality {
  if (maxBitRate === 0 || maxBitRate >= 320) return 'high';
  return maxBitRate >= 128 ? 'medium' : 'low';
}

/** The stored picture nearest to the requested size (no size: the largest). */
function nearestImage(images: Image[], size: number | undefined): Image | undefined {
  if (!images.length) return undefined;
  if (size === undefined) return images.reduce((a, b) => (b.width > a.width ? b : a));
  return images.reduce((a, b) => (Math.abs(b.width - size) < Math.abs(a.width - size) ? b : a));
}

/**
 * The OpenSubsonic extensions this server offers: `getOpenSubsonicExtensions`, which the route
 * answers before any sign-in (the spec opens it to anyone), so it is not among the handlers.
 */
function extensions(): Payload {
  return {
    openSubsonicExtensions: [
      { name: 'apiKeyAuthentication', versions: [1] },
      { name: 'formPost', versions: [1] },
    ],
  };
}

export function createSubsonicService(deps: SubsonicDeps) {
  const { db, catalog, following, playlists, discovery, media } = deps;

  async function songStarsOf(userId: string, songIds: string[]): Promise<Map<string, Date>> {
    if (!songIds.length) return new Map();
    const rows = await db
      .select({ id: songStars.songId, at: songStars.createdAt })
      .from(songStars)
      .where(and(eq(songStars.userId, userId), inArray(songStars.songId, [...new Set(songIds)])));
    return new Map(rows.map((r) => [r.id, r.at]));
  }

  /** Album years, covers and the caller's stars for a list of songs: a few queries per page. */
  async function songContext(
    caller: AuthUser,
    list: SongView[],
    known: AlbumView[] = [],
  ): Promise<SongContext> {
    const albums = new Map(known.map((a) => [a.id, a]));
    const missing = [...new Set(list.map((s) => s.album.id))].filter((id) => !albums.has(id));
    for (const album of await getVisibleAlbums(db, missing, caller)) albums.set(album.id, album);
    const songIds = list.map((s) => s.id);
    const [starred, played] = await Promise.all([
      songStarsOf(caller.id, songIds),
      discovery.lastPlayed(caller.id, { songIds, albumIds: [] }),
    ]);
    return { albums, starred, played: played.songs };
  }

  async function songEntries(
    caller: AuthUser,
    list: SongView[],
    known: AlbumView[] = [],
  ): Promise<Payload[]> {
    const ctx = await songContext(caller, list, known);
    return list.map((song) => songEntry(song, ctx));
  }

  async function albumEntries(caller: AuthUser, list: AlbumView[]): Promise<Payload[]> {
    const albumIds = list.map((a) => a.id);
    const [since, played] = await Promise.all([
      followedSince(db, caller.id, { albumIds, artistIds: [] }),
      discovery.lastPlayed(caller.id, { songIds: [], albumIds }),
    ]);
    return list.map((album) =>
      albumEntry(album, { starred: since.get(album.id), played: played.albums.get(album.id) }),
    );
  }

  async function artistEntries(caller: AuthUser, list: ArtistView[]): Promise<Payload[]> {
    const since = await followedSince(db, caller.id, { albumIds: [], artistIds: list.map((a) => a.id) });
    return list.map((artist) => artistEntry(artist, since.get(artist.id)));
  }

  /**
   * Every artist the caller may see, by name, grouped under their first letter: as `ArtistID3`
   * (getArtists), or as the folder index's plainer `Artist` (getIndexes), whose XML schema has
   * no album count or cover.
   */
  async function artistIndex(caller: AuthUser, shape: 'id3' | 'folder'): Promise<Payload[]> {
    const all: ArtistView[] = [];
    for (let offset = 0; ; offset += MAX_PAGE) {
      const page = await catalog.listArtists(caller, { limit: MAX_PAGE, offset, sort: 'name' });
      all.push(...page.items);
      if (page.items.length < MAX_PAGE) break;
    }
    const groups = new Map<string, ArtistView[]>();
    for (const artist of all) {
      const first = artist.name.trim().charAt(0).toUpperCase();
      const key = /\p{L}/u.test(first) ? first : '#';
      const group = groups.get(key);
      if (group) group.push(artist);
      else groups.set(key, [artist]);
    }
    const entries: Payload[] = [];
    for (const [name, members] of groups) {
      const artist = await artistEntries(caller, members);
      entries.push({
        name,
        artist:
          shape === 'id3'
            ? artist
            : artist.map(({ id, name, starred, artistImageUrl }) => ({ id, name, starred, artistImageUrl })),
      });
    }
    return entries;
  }

  async function playlistEntry(
    caller: AuthUser,
    user: UserRow,
    id: string,
    withSongs: boolean,
  ): Promise<Payload> {
    const playlist = await playlists.get(caller, id);
    const head: Payload = {
      id: playlist.id,
      name: playlist.name,
      comment: playlist.description ?? undefined,
      owner: playlist.owner.id === user.id ? user.email : playlist.owner.displayName,
      public: playlist.isPublic,
      songCount: playlist.tracks.length,
      duration: Math.round(playlist.tracks.reduce((sum, t) => sum + t.song.durationMs, 0) / 1000),
      created: playlist.createdAt,
      changed: playlist.updatedAt,
    };
    if (!withSongs) return head;
    return {
      ...head,
      entry: await songEntries(
        caller,
        playlist.tracks.map((t) => t.song),
      ),
    };
  }

  /** Replaces or edits a playlist's songs: removals by index of the list as it was, then additions. */
  async function editSongs(caller: AuthUser, id: string, remove: number[], add: string[]): Promise<void> {
    if (remove.length) await playlists.removeTracks(caller, id, remove);
    if (add.length) await playlists.addTracks(caller, id, { songIds: add });
  }

  /**
   * A page of album ids by artist name, then title (the catalog's lists sort by one key), case-
   * insensitively in byte order like the catalog's sorts. Like the other album lists, an admin
   * gets what users see, not hidden albums.
   */
  async function albumIdsByArtist(caller: AuthUser, size: number, offset: number): Promise<string[]> {
    const byName = (column: typeof albumTable.title | typeof albumTable.artistName) =>
      sql`lower(${column}) collate "C"`;
    const rows = await db
      .select({ id: albumTable.id })
      .from(albumTable)
      .where(albumVisibleTo(caller.role === 'admin' ? null : caller))
      .orderBy(byName(albumTable.artistName), byName(albumTable.title), asc(albumTable.id))
      .limit(size)
      .offset(offset);
    return rows.map((row) => row.id);
  }

  /**
   * Up to `size` songs drawn at random from all the caller may play (optionally of a genre and
   * within years), not a shuffled run of neighbours: a random mix spans the whole library.
   */
  async function randomSongs(
    caller: AuthUser,
    size: number,
    filter: { genre?: string; fromYear?: number; toYear?: number },
  ): Promise<SongView[]> {
    if (size === 0) return [];
    const rows = await db
      .select({ id: songTable.id })
      .from(songTable)
      .where(
        and(
          songVisibleTo(caller.role === 'admin' ? null : caller),
          filter.genre ? sql`lower(${songTable.genre}) = ${filter.genre.toLowerCase()}` : undefined,
          filter.fromYear !== undefined ? gte(songTable.releaseYear, filter.fromYear) : undefined,
          filter.toYear !== undefined ? lte(songTable.releaseYear, filter.toYear) : undefined,
        ),
      )
      .orderBy(sql`random()`)
      .limit(size);
    return getVisibleSongs(
      db,
      rows.map((row) => row.id),
      caller,
    );
  }

  /** Up to `size` albums drawn at random from those the caller may see. */
  async function randomAlbums(caller: AuthUser, size: number): Promise<AlbumView[]> {
    if (size === 0) return [];
    const rows = await db
      .select({ id: albumTable.id })
      .from(albumTable)
      .where(albumVisibleTo(caller.role === 'admin' ? null : caller))
      .orderBy(sql`random()`)
      .limit(size);
    return getVisibleAlbums(
      db,
      rows.map((row) => row.id),
      caller,
    );
  }

  async function albumList(call: Call): Promise<AlbumView[]> {
    const { caller, params } = call;
    const type = required(params, 'type');
    const size = integer(params, 'size', 10, MAX_PAGE);
    const offset = integer(params, 'offset', 0);
    const page = async (query: { sort: string; genre?: string[]; yearFrom?: number; yearTo?: number }) =>
      (await catalog.listAlbums(caller, { ...query, limit: size, offset })).items;
    switch (type) {
      case 'newest':
        return page({ sort: '-createdAt' });
      case 'alphabeticalByName':
        return page({ sort: 'title' });
      case 'alphabeticalByArtist':
        return getVisibleAlbums(db, await albumIdsByArtist(caller, size, offset), caller);
      case 'frequent':
        return page({ sort: '-popularity' });
      case 'highest':
        return page({ sort: '-followerCount' });
      case 'byGenre':
        return page({ sort: 'title', genre: [required(params, 'genre')] });
      case 'byYear': {
        const from = integer(params, 'fromYear', Number.NaN);
        const to = integer(params, 'toYear', Number.NaN);
        if (Number.isNaN(from)) throw missingParameter('fromYear');
        if (Number.isNaN(to)) throw missingParameter('toYear');
        return page({
          sort: from > to ? '-releaseYear' : 'releaseYear',
          yearFrom: Math.min(from, to),
          yearTo: Math.max(from, to),
        });
      }
      case 'starred':
        return (await following.listAlbums(caller, { limit: size, offset })).items;
      case 'recent': {
        const played = await discovery.recentlyPlayed(caller, { limit: 200 });
        const ids = [...new Set(played.items.map((p) => p.song.album.id))].slice(offset, offset + size);
        return getVisibleAlbums(db, ids, caller);
      }
      case 'random':
        return randomAlbums(caller, size);
      default:
        throw new SubsonicError(0, `Unknown list type: ${type}`);
    }
  }

  async function search(call: Call): Promise<Payload> {
    const { caller, params } = call;
    // Players send "" (quoted) or nothing to list everything, a page at a time.
    const query = (params.get('query') ?? '')
      .replace(/^"+|"+$/g, '')
      .replace(/\*/g, '')
      .trim();
    const windows = {
      artist: {
        limit: integer(params, 'artistCount', 20, MAX_PAGE),
        offset: integer(params, 'artistOffset', 0),
      },
      album: {
        limit: integer(params, 'albumCount', 20, MAX_PAGE),
        offset: integer(params, 'albumOffset', 0),
      },
      song: { limit: integer(params, 'songCount', 20, MAX_PAGE), offset: integer(params, 'songOffset', 0) },
    };
    const found = async <T>(type: 'artist' | 'album' | 'song', everything: () => Promise<{ items: T[] }>) => {
      if (windows[type].limit === 0) return [];
      if (!query) return (await everything()).items;
      const result = await catalog.search(caller, { q: query, types: [type], ...windows[type] });
      return ((result.artists ?? result.albums ?? result.songs)?.items ?? []) as T[];
    };
    // Without a query the order is creation order (then id): stable while a client pages through.
    const [artists, albums, songs] = await Promise.all([
      found<ArtistView>('artist', () =>
        catalog.listArtists(caller, { ...windows.artist, sort: 'createdAt' }),
      ),
      found<AlbumView>('album', () => catalog.listAlbums(caller, { ...windows.album, sort: 'createdAt' })),
      found<SongView>('song', () => catalog.listSongs(caller, { ...windows.song, sort: 'createdAt' })),
    ]);
    return {
      searchResult3: {
        artist: await artistEntries(caller, artists),
        album: await albumEntries(caller, albums),
        song: await songEntries(caller, songs, albums),
      },
    };
  }

  /** Resolves a star's `id`: a song, else an album or artist (some clients star everything by id). */
  async function kindOf(caller: AuthUser, id: string): Promise<'song' | 'album' | 'artist'> {
    if ((await getVisibleSongs(db, [id], caller)).length) return 'song';
    if ((await getVisibleAlbums(db, [id], caller)).length) return 'album';
    await catalog.getArtist(caller, id);
    return 'artist';
  }

  async function setStars(call: Call, on: boolean): Promise<Payload> {
    const { caller, params } = call;
    const ids = (name: string) => params.all(name).filter((id) => id !== '');
    const songsToStar: string[] = [];
    const albumIds = ids('albumId').map(asId);
    const artistIds = ids('artistId').map(asId);
    for (const id of ids('id').map(asId)) {
      const kind = await kindOf(caller, id);
      (kind === 'song' ? songsToStar : kind === 'album' ? albumIds : artistIds).push(id);
    }
    if (!songsToStar.length && !albumIds.length && !artistIds.length) throw missingParameter('id');
    for (const songId of songsToStar) {
      if (on) {
        await db.insert(songStars).values({ userId: caller.id, songId }).onConflictDoNothing();
      } else {
        await db.delete(songStars).where(and(eq(songStars.userId, caller.id), eq(songStars.songId, songId)));
      }
    }
    for (const albumId of albumIds) {
      await (on ? following.followAlbum(caller, albumId) : following.unfollowAlbum(caller, albumId));
    }
    for (const artistId of artistIds) {
      await (on ? following.followArtist(caller, artistId) : following.unfollowArtist(caller, artistId));
    }
    return {};
  }

  async function serveAudio(call: Call, quality: Quality): Promise<typeof SENT> {
    const file = await media.audioFile(call.caller, idOf(call.params, 'id'), quality);
    await sendFile(call.request, call.reply, file.path, {
      contentType: CONTENT_TYPES[file.ext] ?? 'application/octet-stream',
      cacheControl: 'private, no-store',
    });
    return SENT;
  }

  const handlers: Record<string, Handler> = {
    ping: async () => ({}),
    getLicense: async ({ user }) => ({ license: { valid: true, email: user.email } }),
    getMusicFolders: async () => ({ musicFolders: { musicFolder: [MUSIC_FOLDER] } }),
    getIndexes: async ({ caller }) => ({
      indexes: {
        lastModified: deps.clock().getTime(),
        ignoredArticles: '',
        index: await artistIndex(caller, 'folder'),
      },
    }),
    getArtists: async ({ caller }) => ({
      artists: { ignoredArticles: '', index: await artistIndex(caller, 'id3') },
    }),
    getArtist: async ({ caller, params }) => {
      const id = idOf(params, 'id');
      const artist = await catalog.getArtist(caller, id);
      const albums = await catalog.listArtistAlbums(caller, id, {
        limit: MAX_PAGE,
        offset: 0,
        sort: '-releaseYear',
      });
      const [entry] = await artistEntries(caller, [artist]);
      return { artist: { ...entry, album: await albumEntries(caller, albums.items) } };
    },
    getAlbum: async ({ caller, params }) => {
      const album = await catalog.getAlbum(caller, idOf(params, 'id'));
      const [entry] = await albumEntries(caller, [album]);
      return { album: { ...entry, song: await songEntries(caller, album.songs, [album]) } };
    },
    getSong: async ({ caller, params }) => {
      const song = await catalog.getSong(caller, idOf(params, 'id'));
      const [entry] = await songEntries(caller, [song]);
      return { song: entry as Payload };
    },
    getGenres: async () => ({
      genres: {
        genre: (await discovery.genres()).items.map((g) => ({
          value: g.genre,
          songCount: g.songCount,
          albumCount: g.albumCount,
        })),
      },
    }),
    getAlbumList2: async (call) => ({
      albumList2: { album: await albumEntries(call.caller, await albumList(call)) },
    }),
    getRandomSongs: async ({ caller, params }) => {
      const year = (name: string) => (params.get(name) ? integer(params, name, 0) : undefined);
      const songs = await randomSongs(caller, integer(params, 'size', 10, MAX_PAGE), {
        genre: params.get('genre') || undefined,
        fromYear: year('fromYear'),
        toYear: year('toYear'),
      });
      return { randomSongs: { song: await songEntries(caller, songs) } };
    },
    getSongsByGenre: async ({ caller, params }) => {
      const { items } = await catalog.listSongs(caller, {
        genre: [required(params, 'genre')],
        sort: 'title',
        limit: integer(params, 'count', 10, MAX_PAGE),
        offset: integer(params, 'offset', 0),
      });
      return { songsByGenre: { song: await songEntries(caller, items) } };
    },
    search3: search,
    getPlaylists: async ({ caller, user }) => {
      const mine = await playlists.listMine(caller, { limit: MAX_PAGE, offset: 0 });
      const list = await Promise.all(mine.items.map((p) => playlistEntry(caller, user, p.id, false)));
      return { playlists: { playlist: list } };
    },
    getPlaylist: async ({ caller, user, params }) => ({
      playlist: await playlistEntry(caller, user, idOf(params, 'id'), true),
    }),
    createPlaylist: async ({ caller, user, params }) => {
      const songIds = params.all('songId').map(asId);
      let id = params.get('playlistId');
      if (id) {
        id = idOf(params, 'playlistId');
        const current = await playlists.get(caller, id);
        await editSongs(
          caller,
          id,
          current.tracks.map((t) => t.position),
          songIds,
        );
      } else {
        const name = playlistText(required(params, 'name'), 'name', PLAYLIST_NAME_MAX, false);
        id = (await playlists.create(caller, { name, isPublic: false })).id;
        await editSongs(caller, id, [], songIds);
      }
      return { playlist: await playlistEntry(caller, user, id, true) };
    },
    updatePlaylist: async ({ caller, params }) => {
      const id = idOf(params, 'playlistId');
      const rawName = params.get('name');
      const rawComment = params.get('comment');
      const name =
        rawName === undefined ? undefined : playlistText(rawName, 'name', PLAYLIST_NAME_MAX, false);
      const comment =
        rawComment === undefined
          ? undefined
          : playlistText(rawComment, 'comment', PLAYLIST_COMMENT_MAX, true);
      const isPublic = params.get('public');
      // Every parameter is checked before anything changes.
      const remove = params.all('songIndexToRemove').map((raw) => nonNegative(raw, 'songIndexToRemove'));
      const add = params.all('songIdToAdd').map(asId);
      const patch = {
        ...(name !== undefined ? { name } : {}),
        ...(comment !== undefined ? { description: comment || null } : {}),
        ...(isPublic !== undefined ? { isPublic: isPublic === 'true' } : {}),
      };
      // With nothing else to do, the (empty) update still checks that the playlist is the caller's.
      if (Object.keys(patch).length || (!remove.length && !add.length)) {
        await playlists.update(caller, id, patch);
      }
      await editSongs(caller, id, remove, add);
      return {};
    },
    deletePlaylist: async ({ caller, params }) => {
      await playlists.remove(caller, idOf(params, 'id'));
      return {};
    },
    stream: async (call) => {
      const raw = call.params.get('format') === 'raw';
      return serveAudio(call, raw ? 'original' : qualityFor(integer(call.params, 'maxBitRate', 0)));
    },
    download: (call) => serveAudio(call, 'original'),
    getCoverArt: async ({ caller, params, request, reply }) => {
      const id = required(params, 'id');
      const isArtist = id.startsWith('ar-');
      const bare = isArtist ? id.slice(3) : id;
      if (!UUID.test(bare)) throw notFound('Cover art');
      const images = isArtist
        ? (await catalog.getArtist(caller, bare)).images
        : (await catalog.getAlbumView(caller, bare)).images;
      const size = params.get('size') ? integer(params, 'size', 0) : undefined;
      const match = IMAGE_NAME.exec(nearestImage(images, size)?.url ?? '');
      if (!match) throw notFound('Cover art');
      await sendFile(request, reply, media.imagePath(match[1] as string, Number(match[2])), {
        contentType: 'image/jpeg',
        cacheControl: 'public, max-age=86400',
      });
      return SENT;
    },
    star: (call) => setStars(call, true),
    unstar: (call) => setStars(call, false),
    getStarred2: async ({ caller }) => {
      const [albums, artists, starredSongs] = await Promise.all([
        following.listAlbums(caller, { limit: MAX_PAGE, offset: 0 }),
        following.listArtists(caller, { limit: MAX_PAGE, offset: 0 }),
        db
          .select({ id: songStars.songId })
          .from(songStars)
          .where(eq(songStars.userId, caller.id))
          .orderBy(desc(songStars.createdAt), desc(songStars.songId))
          .limit(MAX_PAGE),
      ]);
      const songs = await getVisibleSongs(
        db,
        starredSongs.map((s) => s.id),
        caller,
      );
      return {
        starred2: {
          artist: await artistEntries(caller, artists.items),
          album: await albumEntries(caller, albums.items),
          song: await songEntries(caller, songs),
        },
      };
    },
    scrobble: async ({ caller, user, params }) => {
      const ids = params.all('id');
      if (!ids.length) throw missingParameter('id');
      const submission = params.get('submission') !== 'false';
      for (const raw of ids) {
        if (!UUID.test(raw)) throw notFound('Song');
        const songId = raw.toLowerCase();
        if (submission) await discovery.recordPlay(caller, songId, { event: 'play' });
        else {
          await catalog.getSong(caller, songId);
          const report = { songId, player: params.get('c') ?? '', reportedAt: deps.clock() };
          await db
            .insert(nowPlayingTable)
            .values({ userId: user.id, ...report })
            .onConflictDoUpdate({ target: nowPlayingTable.userId, set: report });
        }
      }
      return {};
    },
    getNowPlaying: async ({ caller }) => {
      const now = deps.clock().getTime();
      // What every process was told in the last ten minutes, newest first.
      const current = await db
        .select({
          songId: nowPlayingTable.songId,
          player: nowPlayingTable.player,
          at: nowPlayingTable.reportedAt,
          login: users.username,
        })
        .from(nowPlayingTable)
        .innerJoin(users, eq(users.id, nowPlayingTable.userId))
        .where(gte(nowPlayingTable.reportedAt, new Date(now - NOW_PLAYING_MS)))
        .orderBy(desc(nowPlayingTable.reportedAt), asc(nowPlayingTable.userId))
        .limit(MAX_PAGE);
      const songs = await getVisibleSongs(
        db,
        current.map((c) => c.songId),
        caller,
      );
      const ctx = await songContext(caller, songs);
      const byId = new Map(songs.map((s) => [s.id, s]));
      return {
        nowPlaying: {
          entry: current.flatMap((c) => {
            const song = byId.get(c.songId);
            if (!song) return [];
            return [
              {
                ...songEntry(song, ctx),
                username: c.login,
                minutesAgo: Math.max(0, Math.floor((now - c.at.getTime()) / 60000)),
                playerId: 0,
                playerName: c.player,
              },
            ];
          }),
        },
      };
    },
    getUser: async ({ user, params }) => {
      const username = required(params, 'username');
      // Players ask for the signed-in user; other accounts are not theirs to read.
      const asked = username.trim().toLowerCase();
      if (asked !== user.email && asked !== user.username) {
        throw new SubsonicError(50, 'You may only read your own user');
      }
      return {
        user: {
          username: user.username,
          email: user.email,
          scrobblingEnabled: true,
          adminRole: user.role === 'admin',
          settingsRole: false,
          downloadRole: true,
          uploadRole: user.role !== 'user',
          playlistRole: true,
          coverArtRole: false,
          commentRole: false,
          podcastRole: false,
          streamRole: true,
          jukeboxRole: false,
          shareRole: false,
          videoConversionRole: false,
          folder: [MUSIC_FOLDER.id],
        },
      };
    },
  };

  return {
    extensions,
    /** The handler of a Subsonic method name, or undefined for methods this server does not offer. */
    handler: (method: string): Handler | undefined =>
      Object.hasOwn(handlers, method) ? handlers[method] : undefined,
  };
}

export type SubsonicService = ReturnType<typeof createSubsonicService>;
