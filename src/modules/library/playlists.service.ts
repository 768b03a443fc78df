import { Readable } from 'node:stream';
import type { AuthUser } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import { type Db, type Executor, type Tx, withTx } from '../../platform/db.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.js';
import {
  ALBUM_LISTS_TAG,
  getVisibleSongs,
  type PlaylistSummaryView,
  type SongView,
} from '../catalog/index.js';
import { userExists } from '../identity/index.js';
import {
  attachmentDisposition,
  type ImportEntry,
  parseM3u,
  parseTrackListJson,
  renderM3u8,
  renderTrackListJson,
} from './playlists.formats.js';
import * as repo from './playlists.repo.js';

/** A playlist holds at most this many entries (hidden songs included: they still take room). */
export const MAX_TRACKS = 10_000;

export type PlaylistView = PlaylistSummaryView;

export interface TrackView {
  position: number;
  addedAt: string;
  song: SongView;
}

export interface PlaylistDetailView extends PlaylistView {
  tracks: TrackView[];
}

export interface PlaylistDeps {
  db: Db;
  cache: Cache;
}

/** Tracks a page holds by default and at most, and what the playlist detail carries. */
export const TRACK_PAGE_LIMIT = 100;
/** Entries read per query while an export streams out. */
const EXPORT_BATCH = 500;
/**
 * How long a playlist read is kept. Edits of the playlist invalidate it at once, and catalog
 * changes that move album lists (visibility, deletions) too; what else can change a song's view
 * (a renamed song, a new display name) shows within this time.
 */
const PLAYLIST_CACHE_TTL_SEC = 30;
const playlistTag = (id: string) => `library:playlist:${id}`;

interface Window {
  limit: number;
  offset: number;
}

const isAdmin = (caller: AuthUser | null) => caller?.role === 'admin';

/** Private playlists exist only for their owner and admins: everyone else gets 404. */
const maySee = (caller: AuthUser | null, playlist: { isPublic: boolean; ownerId: string }) =>
  playlist.isPublic || isAdmin(caller) || caller?.id === playlist.ownerId;

const playlistNotFound = () => new NotFoundError('Playlist', 'PLAYLIST_NOT_FOUND');

/**
 * The playlist when `caller` may change it: 404 when they may not even see it, 403 when they
 * may see it but it is not theirs. Admins may rename, hide and delete any playlist (moderation),
 * but the tracks are the owner's own selection.
 */
function changeable<T extends { isPublic: boolean; ownerId: string }>(
  caller: AuthUser,
  playlist: T | undefined,
  options: { admins: boolean },
): T {
  if (!playlist || !maySee(caller, playlist)) throw playlistNotFound();
  if (playlist.ownerId === caller.id || (options.admins && isAdmin(caller))) return playlist;
  throw new ForbiddenError("Only the playlist's owner may change it", 'NOT_PLAYLIST_OWNER');
}

function toView(row: repo.PlaylistCardRow, stats = { trackCount: 0, durationMs: 0 }): PlaylistView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    owner: { id: row.ownerId, displayName: row.ownerDisplayName },
    isPublic: row.isPublic,
    trackCount: stats.trackCount,
    durationMs: stats.durationMs,
    followerCount: row.followerCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

async function toViews(db: Executor, rows: repo.PlaylistCardRow[]): Promise<PlaylistView[]> {
  const stats = await repo.trackStats(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((row) => toView(row, stats.get(row.id)));
}

/** Public playlists matching `q` (typo-tolerant on the name), for `GET /search`. */
export async function searchPublicPlaylists(
  db: Executor,
  query: { q: string } & Window,
): Promise<{ items: PlaylistView[]; total: number }> {
  const { rows, total } = await repo.searchPublicPlaylists(db, { ...query, q: query.q.trim().toLowerCase() });
  return { items: await toViews(db, rows), total };
}

/** How many public playlists a user owns, for the public profile (identity asks through app.ts). */
export function countPublicPlaylists(db: Executor, ownerId: string): Promise<number> {
  return repo.countPublicPlaylists(db, ownerId);
}

// ---------------------------------------------------------------------------------------------
// Track order. Entries whose song readers may not see (hidden now, perhaps shown again later)
// keep their rows; clients never see them, and every position a client sends or receives counts
// only visible entries. Deleted songs take their entries with them (foreign key cascade), which
// leaves gaps in the stored positions that reads never show and the next reordering edit closes.

/** An entry as the edits see it; `id` is null for one being added. */
export interface Entry {
  id: string | null;
  songId: string;
  visible: boolean;
}

/** Index in `entries` of each entry a client sees: client position -> index. */
const visibleIndexes = (entries: Entry[]) =>
  entries.flatMap((entry, index) => (entry.visible ? [index] : []));

const outOfRange = (path: string, message: string) =>
  new ValidationError(`${path.slice(1)} ${message}`, [{ path, message }], 'POSITION_OUT_OF_RANGE');

export function insertAt(entries: Entry[], position: number, added: Entry[]): Entry[] {
  const visible = visibleIndexes(entries);
  if (position > visible.length) {
    throw outOfRange('/position', `is beyond the end of the playlist (${visible.length} tracks)`);
  }
  const at = position === visible.length ? entries.length : visible[position]!;
  return [...entries.slice(0, at), ...added, ...entries.slice(at)];
}

export function removeAt(entries: Entry[], positions: number[]): Entry[] {
  const visible = visibleIndexes(entries);
  const invalid = positions.findIndex((p) => p >= visible.length);
  if (invalid >= 0) {
    throw outOfRange(`/positions/${invalid}`, `is beyond the end of the playlist (${visible.length} tracks)`);
  }
  const removed = new Set(positions.map((p) => visible[p]));
  return entries.filter((_, index) => !removed.has(index));
}

/**
 * Spotify's reorder: the `rangeLength` tracks from `rangeStart` go before the track that was at
 * `insertBefore` before the move (or to the end when it equals the length). Hidden entries
 * stay where they are.
 */
export function moveRange(
  entries: Entry[],
  rangeStart: number,
  rangeLength: number,
  insertBefore: number,
): Entry[] {
  const visible = visibleIndexes(entries);
  const length = `(${visible.length} tracks)`;
  if (rangeStart >= visible.length)
    throw outOfRange('/rangeStart', `is not a position of the playlist ${length}`);
  if (rangeStart + rangeLength > visible.length) {
    throw outOfRange('/rangeLength', `reaches beyond the end of the playlist ${length}`);
  }
  if (insertBefore > visible.length)
    throw outOfRange('/insertBefore', `is beyond the end of the playlist ${length}`);
  // A target from the range's first track to just after its last leaves the order as it is.
  if (insertBefore >= rangeStart && insertBefore <= rangeStart + rangeLength) return entries;
  const moved = visible.slice(rangeStart, rangeStart + rangeLength).map((index) => entries[index]!);
  const movedSet = new Set(moved);
  const rest = entries.filter((entry) => !movedSet.has(entry));
  const target =
    insertBefore === visible.length ? rest.length : rest.indexOf(entries[visible[insertBefore]!]!);
  return [...rest.slice(0, target), ...moved, ...rest.slice(target)];
}

/** Stores `after` as the playlist's order, positions 0..n-1, writing only what changed. */
async function saveOrder(tx: Executor, playlistId: string, before: repo.EntryRow[], after: Entry[]) {
  const kept = new Set(after.map((entry) => entry.id));
  await repo.deleteEntries(
    tx,
    before.filter((entry) => !kept.has(entry.id)).map((entry) => entry.id),
  );
  const stored = new Map(before.map((entry) => [entry.id, entry.position]));
  await repo.moveEntries(
    tx,
    after.flatMap((entry, position) =>
      entry.id && stored.get(entry.id) !== position ? [{ id: entry.id, position }] : [],
    ),
  );
  await repo.insertEntries(
    tx,
    playlistId,
    after.flatMap((entry, position) => (entry.id ? [] : [{ songId: entry.songId, position }])),
  );
}

function assertRoom(entries: number, adding: number): void {
  if (entries + adding > MAX_TRACKS) {
    throw new ConflictError(
      `A playlist holds at most ${MAX_TRACKS} tracks; this one has ${entries}`,
      'PLAYLIST_FULL',
    );
  }
}

/**
 * Entries matched per query: at most MAX_READINGS candidates each, so one statement folds a
 * bounded list, and other requests (on PGlite: the event loop itself) get a turn in between.
 */
const MATCH_BATCH_ENTRIES = 250;

/** Import entry index -> the song it matched, one bounded batch of entries at a time. */
async function matchEntries(db: Executor, entries: ImportEntry[]): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (let first = 0; first < entries.length; first += MATCH_BATCH_ENTRIES) {
    const batch = entries.slice(first, first + MATCH_BATCH_ENTRIES).flatMap((entry, offset) =>
      entry.candidates.map((candidate, rank) => ({
        entry: first + offset,
        rank,
        ...candidate,
        album: entry.album,
      })),
    );
    for (const [entry, songId] of await repo.matchSongs(db, batch)) found.set(entry, songId);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

export function createPlaylistService(deps: PlaylistDeps) {
  const { db, cache } = deps;

  async function loadView(id: string): Promise<PlaylistView> {
    const row = await repo.findPlaylistCard(db, id);
    if (!row) throw playlistNotFound();
    const [view] = await toViews(db, [row]);
    return view!;
  }

  /** The tracks readers see at positions `offset`.., at most `limit` of them. */
  async function readTracks(id: string, window: Window): Promise<TrackView[]> {
    const entries = await repo.listVisibleEntries(db, id, window);
    const views = await getVisibleSongs(db, [...new Set(entries.map((entry) => entry.songId))], null);
    const songs = new Map(views.map((song) => [song.id, song]));
    // A song hidden between the two reads is left out here too.
    return entries
      .flatMap((entry) => {
        const song = songs.get(entry.songId);
        return song ? [{ addedAt: entry.addedAt.toISOString(), song }] : [];
      })
      .map((track, index) => ({ position: window.offset + index, ...track }));
  }

  /**
   * Reads through the cache what every reader of playlist `id` sees, with its owner: the
   * caller's right to see it is checked on the cached value, so one entry serves everyone.
   */
  async function cachedRead<T extends { view: { isPublic: boolean } | null; ownerId: string }>(
    caller: AuthUser | null,
    id: string,
    key: string,
    load: (row: repo.PlaylistCardRow) => Promise<Omit<T, 'ownerId'>>,
  ): Promise<T> {
    const value = await cache.read<T | null>(
      {
        key: `library:playlist:${id}:${key}`,
        tags: [playlistTag(id), ALBUM_LISTS_TAG],
        ttlSec: PLAYLIST_CACHE_TTL_SEC,
      },
      async () => {
        const row = await repo.findPlaylistCard(db, id);
        return row ? ({ ...(await load(row)), ownerId: row.ownerId } as T) : null;
      },
    );
    if (!value || !maySee(caller, { isPublic: value.view!.isPublic, ownerId: value.ownerId }))
      throw playlistNotFound();
    return value;
  }

  /** Makes cached reads of the playlist miss, after a committed change to it. */
  const invalidate = (id: string) => cache.invalidate(playlistTag(id));

  /** Runs one track edit under the playlist's row lock and answers the updated playlist. */
  async function editTracks(
    caller: AuthUser,
    id: string,
    edit: (tx: Executor) => Promise<void>,
  ): Promise<PlaylistView> {
    await withTx(db, async (tx) => {
      changeable(caller, await repo.lockPlaylist(tx, id), { admins: false });
      await edit(tx);
      await repo.touchPlaylist(tx, id);
    });
    await invalidate(id);
    return loadView(id);
  }

  /** Songs among `songIds` readers may not see: a 400 naming each, so nothing is added. */
  async function assertListedSongs(tx: Executor, songIds: string[]): Promise<void> {
    const listed = new Set((await getVisibleSongs(tx, songIds, null)).map((song) => song.id));
    const unknown = songIds.flatMap((songId, index) =>
      listed.has(songId) ? [] : [{ path: `/songIds/${index}`, message: 'names no song that can be added' }],
    );
    if (unknown.length) {
      throw new ValidationError(
        'songIds name songs that do not exist or are hidden',
        unknown,
        'UNKNOWN_SONG',
      );
    }
  }

  async function createPlaylist(
    tx: Executor,
    caller: AuthUser,
    input: { name: string; description?: string | null; isPublic?: boolean },
  ): Promise<string> {
    return repo.insertPlaylist(tx, {
      ownerId: caller.id,
      name: input.name,
      description: input.description ?? null,
      isPublic: input.isPublic ?? true,
    });
  }

  return {
    /** A live event's playlist: its id and name when `caller` may see it, else undefined. */
    async visibleTo(caller: AuthUser, id: string): Promise<{ id: string; name: string } | undefined> {
      const row = await repo.findPlaylistCard(db, id);
      return row && maySee(caller, row) ? { id: row.id, name: row.name } : undefined;
    },

    /**
     * Playlists by id as a listening event's host artist sees them: those that are public or
     * belong to an account of that artist (ids missing from the map are deleted or hidden from it).
     */
    async seenByArtist(artistId: string, ids: string[]): Promise<Map<string, { id: string; name: string }>> {
      const rows = await repo.findPlaylistAudiences(db, [...new Set(ids)]);
      return new Map(
        rows
          .filter((row) => row.isPublic || row.ownerArtistId === artistId)
          .map((row) => [row.id, { id: row.id, name: row.name }] as const),
      );
    },

    /**
     * What a live event plays: the songs everyone may see, in playlist order, with their
     * durations (songs without a known duration are skipped); undefined once the playlist is gone.
     */
    async programme(id: string): Promise<{ songId: string; durationMs: number }[] | undefined> {
      if (!(await repo.findPlaylistCard(db, id))) return undefined;
      const entries = await repo.listVisibleEntries(db, id, { limit: MAX_TRACKS, offset: 0 });
      const views = await getVisibleSongs(db, [...new Set(entries.map((entry) => entry.songId))], null);
      const durations = new Map(views.map((song) => [song.id, song.durationMs]));
      return entries.flatMap((entry) => {
        const durationMs = durations.get(entry.songId);
        return durationMs && durationMs > 0 ? [{ songId: entry.songId, durationMs }] : [];
      });
    },

    async create(caller: AuthUser, input: { name: string; description?: string | null; isPublic?: boolean }) {
      return loadView(await createPlaylist(db, caller, input));
    },

    /** The playlist with its first page of tracks (the rest through `tracks`). */
    async get(caller: AuthUser | null, id: string): Promise<PlaylistDetailView> {
      const { view } = await cachedRead<{ view: PlaylistDetailView; ownerId: string }>(
        caller,
        id,
        'detail',
        async (row) => {
          const [card] = await toViews(db, [row]);
          return { view: { ...card!, tracks: await readTracks(id, { limit: TRACK_PAGE_LIMIT, offset: 0 }) } };
        },
      );
      return view;
    },

    /** One page of the tracks readers see, positions counted from 0. */
    async tracks(caller: AuthUser | null, id: string, window: Window) {
      const { view, items } = await cachedRead<{
        view: PlaylistView;
        items: TrackView[];
        ownerId: string;
      }>(caller, id, `tracks:${window.offset}:${window.limit}`, async (row) => {
        const [card] = await toViews(db, [row]);
        return { view: card!, items: await readTracks(id, window) };
      });
      return { items, total: view.trackCount };
    },

    async update(
      caller: AuthUser,
      id: string,
      input: { name?: string; description?: string | null; isPublic?: boolean },
    ): Promise<PlaylistView> {
      await withTx(db, async (tx) => {
        changeable(caller, await repo.lockPlaylist(tx, id), { admins: true });
        await repo.updatePlaylist(tx, id, input);
      });
      await invalidate(id);
      return loadView(id);
    },

    async remove(caller: AuthUser, id: string): Promise<void> {
      await withTx(db, async (tx) => {
        changeable(caller, await repo.lockPlaylist(tx, id), { admins: true });
        await repo.deletePlaylist(tx, id);
      });
      await invalidate(id);
    },

    async listMine(caller: AuthUser, window: Window) {
      const { rows, total } = await repo.listOwnedPlaylists(db, caller.id, {
        ...window,
        includePrivate: true,
      });
      return { items: await toViews(db, rows), total };
    },

    /** Another user's public playlists (their private ones never show, not even to admins). */
    async listByUser(userId: string, window: Window) {
      if (!(await userExists(db, userId))) throw new NotFoundError('User', 'USER_NOT_FOUND');
      const { rows, total } = await repo.listOwnedPlaylists(db, userId, { ...window, includePrivate: false });
      return { items: await toViews(db, rows), total };
    },

    /** Adds songs at the end or at a position; one unknown or hidden song rejects them all. */
    addTracks(caller: AuthUser, id: string, input: { songIds: string[]; position?: number }) {
      return editTracks(caller, id, async (tx) => {
        await assertListedSongs(tx, input.songIds);
        if (input.position === undefined) {
          // Appending needs neither the order nor the visibility of what is there.
          const tail = await repo.entryTail(tx, id);
          assertRoom(tail.entries, input.songIds.length);
          await repo.insertEntries(
            tx,
            id,
            input.songIds.map((songId, index) => ({ songId, position: tail.lastPosition + 1 + index })),
          );
          return;
        }
        const before = await repo.listEntries(tx, id);
        assertRoom(before.length, input.songIds.length);
        const added = input.songIds.map((songId) => ({ id: null, songId, visible: true }));
        await saveOrder(tx, id, before, insertAt(before, input.position, added));
      });
    },

    removeTracks(caller: AuthUser, id: string, positions: number[]) {
      return editTracks(caller, id, async (tx) => {
        const before = await repo.listEntries(tx, id);
        await saveOrder(tx, id, before, removeAt(before, positions));
      });
    },

    reorderTracks(
      caller: AuthUser,
      id: string,
      input: { rangeStart: number; rangeLength?: number; insertBefore: number },
    ) {
      return editTracks(caller, id, async (tx) => {
        const before = await repo.listEntries(tx, id);
        const after = moveRange(before, input.rangeStart, input.rangeLength ?? 1, input.insertBefore);
        await saveOrder(tx, id, before, after);
      });
    },

    async follow(caller: AuthUser, id: string): Promise<void> {
      const row = await repo.findPlaylistCard(db, id);
      if (!row || !maySee(caller, row)) throw playlistNotFound();
      await repo.insertFollow(db, caller.id, id);
      await invalidate(id);
    },

    async unfollow(caller: AuthUser, id: string): Promise<void> {
      const row = await repo.findPlaylistCard(db, id);
      if (!row || !maySee(caller, row)) throw playlistNotFound();
      await repo.deleteFollow(db, caller.id, id);
      await invalidate(id);
    },

    /**
     * Deletion hook: the account's playlists and follows go with it (foreign keys), so the
     * cached reads of every playlist it owned or followed must miss once it is gone.
     */
    async forgetPlaylistsOf(tx: Tx, userId: string): Promise<() => Promise<void>> {
      const ids = await repo.playlistIdsTouchedBy(tx, userId);
      return async () => {
        if (ids.length) await cache.invalidate(...ids.map(playlistTag));
      };
    },

    async listFollowed(caller: AuthUser, window: Window) {
      const { rows, total } = await repo.listFollowedPlaylists(db, caller.id, window);
      return { items: await toViews(db, rows), total };
    },

    /**
     * The visible tracks as M3U8 (a download) or as a JSON track list, streamed: a batch of
     * entries is read as the previous one is written, so a long playlist is never in memory whole.
     */
    async exportPlaylist(caller: AuthUser | null, id: string, format: 'm3u8' | 'json') {
      const row = await repo.findPlaylistCard(db, id);
      if (!row || !maySee(caller, row)) throw playlistNotFound();
      async function* batches(): AsyncGenerator<SongView[]> {
        for (let offset = 0; ; offset += EXPORT_BATCH) {
          const tracks = await readTracks(id, { limit: EXPORT_BATCH, offset });
          if (tracks.length) yield tracks.map((track) => track.song);
          if (tracks.length < EXPORT_BATCH) return;
        }
      }
      return format === 'm3u8'
        ? {
            format,
            body: Readable.from(renderM3u8(row.name, batches())),
            disposition: attachmentDisposition(row.name, 'm3u8'),
          }
        : { format, body: Readable.from(renderTrackListJson(row, batches())) };
    },

    /**
     * Creates a playlist from an M3U/M3U8 file or a JSON track list, matching artist and title
     * against the listed catalog (case- and accent-insensitively), and reports each entry.
     */
    async importPlaylist(
      caller: AuthUser,
      input: { name: string; isPublic?: boolean; format: 'm3u' | 'json'; content: string },
    ) {
      const entries: ImportEntry[] =
        input.format === 'json' ? parseTrackListJson(input.content) : parseM3u(input.content);
      if (entries.length > MAX_TRACKS) {
        throw new ValidationError(
          `content lists ${entries.length} tracks; a playlist holds at most ${MAX_TRACKS}`,
          [{ path: '/content', message: `lists more than ${MAX_TRACKS} tracks` }],
          'TOO_MANY_TRACKS',
        );
      }
      const found = await matchEntries(db, entries);
      const matched = entries.flatMap((entry, index) => {
        const songId = found.get(index);
        return songId ? [{ line: entry.line, songId }] : [];
      });
      const unmatched = entries.flatMap((entry, index) =>
        found.has(index) ? [] : [{ line: entry.line, text: entry.text }],
      );
      const id = await withTx(db, async (tx) => {
        const playlistId = await createPlaylist(tx, caller, input);
        await repo.insertEntries(
          tx,
          playlistId,
          matched.map((match, position) => ({ songId: match.songId, position })),
        );
        return playlistId;
      });
      return { playlist: await loadView(id), matched, unmatched };
    },
  };
}

export type PlaylistService = ReturnType<typeof createPlaylistService>;
