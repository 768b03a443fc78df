import { createHash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, sep } from 'node:path';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { IAudioMetadata } from 'music-metadata';
import type { AuthUser } from '../../platform/auth.js';
import { type Db, isUniqueViolation } from '../../platform/db.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { enqueueJob, type JobContext, type JobQueue, PermanentJobError } from '../../platform/jobs.js';
import { albums, type CatalogService, catalogBulk, writeSongAudio } from '../catalog/index.js';
import { cleanTag, storedExtension } from './media.probe.js';
import { type MediaService, titleFromFileName } from './media.service.js';
import {
  type LibraryScanRow,
  libraryAlbums,
  libraryFiles,
  libraryScans,
  type ScanError,
} from './media.tables.js';

export const SCAN_JOB = 'media.library-scan';

/** Files whose name says audio; everything else in the folder (covers, cue sheets, logs) is ignored. */
const AUDIO_EXTENSIONS = new Set([
  '.mp3',
  '.flac',
  '.ogg',
  '.oga',
  '.opus',
  '.m4a',
  '.mp4',
  '.aac',
  '.wav',
  '.aif',
  '.aiff',
]);
/** Pictures beside the files that stand for the album's cover, best first. */
const COVER_FILES = ['cover', 'folder', 'front', 'album'].flatMap((name) =>
  ['jpg', 'jpeg', 'png'].map((ext) => `${name}.${ext}`),
);
/** Folders read at once while walking, and files whose tags are read at once. */
const WALK_CONCURRENCY = 8;
const READ_CONCURRENCY = 8;
/**
 * Files read before their catalog writes run, in path order, in one transaction. The next
 * batch is read while one is written.
 */
const READ_BATCH = 250;
/** Files a rescan forgets per transaction when they are gone. */
const REMOVE_BATCH = 500;
/** Songs an album holds at most (as the catalog's own limit). */
const MAX_SONGS_PER_ALBUM = 500;
/** How often progress reaches the database (and renews the job's lease). */
const PROGRESS_EVERY_MS = 500;
/** Errors kept on a scan; the `failed` count goes on beyond them. */
const MAX_ERRORS = 1000;
const MAX_SONG_MS = 3_600_000;
const MIN_YEAR = 1900;
const MAX_YEAR = 2100;
/** Tracks per disc in the stored track number: disc 2 track 3 is 203 (see `trackNumberOf`). */
const TRACKS_PER_DISC = 100;
const UNKNOWN_ARTIST = 'Unknown Artist';
const UNKNOWN_ALBUM = 'Unknown Album';
const VARIOUS_ARTISTS = 'Various Artists';
const UNKNOWN_GENRE = 'Unknown';
/** Folder names that are a disc of the album above them, not an album ("CD2", "Disc 1"). */
const DISC_FOLDER = /^(?:cd|disc|disk)\s*([0-9]{1,2})$/i;

/** The scans write the catalog as an admin would. */
const LIBRARY_CALLER: AuthUser = {
  id: '00000000-0000-0000-0000-000000000000',
  role: 'admin',
  artistId: null,
  sessionId: 'library-scan',
};

export interface ScanView {
  id: string;
  path: string;
  status: LibraryScanRow['status'];
  total: number;
  processed: number;
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  failed: number;
  errors: ScanError[];
  startedAt: string | null;
  finishedAt: string | null;
}

export function toScanView(row: LibraryScanRow): ScanView {
  return {
    id: row.id,
    path: row.path,
    status: row.status,
    total: row.total,
    processed: row.processed,
    added: row.added,
    updated: row.updated,
    unchanged: row.unchanged,
    removed: row.removed,
    failed: row.failed,
    errors: row.errors,
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

/** A second scan asked for while one is queued or running: the answer carries the running one. */
export class ScanRunningError extends ConflictError {
  constructor(readonly scan: ScanView) {
    super('A scan is already queued or running', 'SCAN_RUNNING');
  }
}

/** What one file's tags (or, lacking them, its path) say about its song and album. */
export interface TrackInfo {
  title: string;
  /** The song's own artist: on a compilation, each track's. */
  artist: string;
  albumArtist: string;
  album: string;
  albumKeys: string[];
  trackNumber?: number;
  year?: number;
  releaseDate?: string;
  genre?: string;
  durationMs: number;
  ext: string;
}

/** One spelling per artist or album however its files write it: case and runs of spaces do not matter. */
const nameKey = (name: string) => name.normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();
const tidyName = (name: string) => name.normalize('NFKC').replace(/\s+/g, ' ').trim();

/**
 * Songs are ordered by disc, then track, in one number: disc 1 (or no disc) keeps its track
 * numbers, disc n > 1 adds n * 100. A track outside 1..99 gets the album's next free number.
 */
export function trackNumberOf(track: number | null | undefined, disc: number | null | undefined) {
  if (!track || track < 1 || track >= TRACKS_PER_DISC) return undefined;
  const d = disc && disc > 1 && disc < 100 ? disc : 0;
  return d * TRACKS_PER_DISC + track;
}

/** iTunes' compilation flag: music-metadata maps TCMP, but some taggers write it as a user text frame. */
function isCompilation({ common, native }: IAudioMetadata): boolean {
  if (common.compilation) return true;
  return Object.values(native).some((tags) =>
    tags.some((tag) => /^(?:TXXX:)?(?:TCMP|COMPILATION)$/i.test(tag.id) && String(tag.value) === '1'),
  );
}

/** A year the catalog accepts, from a year tag or a date ("2003", "2003-05-01"). */
function yearOf(year: number | undefined, date: string | undefined): number | undefined {
  const y = year ?? (date ? Number.parseInt(date.slice(0, 4), 10) : undefined);
  return y && y >= MIN_YEAR && y <= MAX_YEAR ? y : undefined;
}

/**
 * Maps a file's tags onto the catalog. Without tags the path speaks: the title is the file name
 * less a leading track number, the album its folder (the one above a "CD2" folder) and the
 * artist the folder above that.
 */
export function mapTrack(file: string, root: string, metadata: IAudioMetadata, ext: string): TrackInfo {
  const { common, format } = metadata;
  let folder = dirname(file);
  let folderDisc: number | undefined;
  const discMatch = DISC_FOLDER.exec(basename(folder));
  if (discMatch && folder !== root) {
    folderDisc = Number(discMatch[1]);
    folder = dirname(folder);
  }
  const folderAlbum = folder !== root && folder.startsWith(root) ? basename(folder) : undefined;
  const artistFolder = dirname(folder);
  const folderArtist =
    folderAlbum && artistFolder !== root && artistFolder.startsWith(root)
      ? basename(artistFolder)
      : undefined;

  const trackArtist = cleanTag(common.artist) ?? cleanTag(common.artists?.[0]);
  const albumArtist = tidyName(
    cleanTag(common.albumartist) ??
      (isCompilation(metadata) ? VARIOUS_ARTISTS : undefined) ??
      trackArtist ??
      cleanTag(folderArtist) ??
      UNKNOWN_ARTIST,
  );
  const album = tidyName(cleanTag(common.album) ?? cleanTag(folderAlbum) ?? UNKNOWN_ALBUM);
  const nameGroup = `name:${nameKey(albumArtist)}\u0001${nameKey(album)}`;
  const mbid = cleanTag(common.musicbrainz_albumid, 64);
  const dateTag = cleanTag(common.date ?? common.originaldate, 32);
  const fileTrack = /^\s*([0-9]{1,3})/.exec(basename(file))?.[1];
  const title = cleanTag(common.title) ?? titleFromFileName(basename(file)) ?? basename(file).slice(0, 200);
  const info: TrackInfo = {
    title,
    artist: trackArtist ? tidyName(trackArtist) : albumArtist,
    albumArtist,
    album,
    albumKeys: mbid ? [`mb:${mbid.toLowerCase()}`, nameGroup] : [nameGroup],
    durationMs: Math.min(MAX_SONG_MS, Math.max(1, Math.round((format.duration ?? 0) * 1000))),
    ext,
  };
  const trackNumber = trackNumberOf(
    common.track?.no ?? (fileTrack ? Number(fileTrack) : undefined),
    common.disk?.no ?? folderDisc,
  );
  if (trackNumber) info.trackNumber = trackNumber;
  const year = yearOf(common.year, dateTag);
  if (year) info.year = year;
  if (dateTag && /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(dateTag) && !Number.isNaN(Date.parse(dateTag))) {
    if (Number(dateTag.slice(0, 4)) === year) info.releaseDate = dateTag;
  }
  const genre = cleanTag(common.genre?.[0], 64);
  if (genre) info.genre = genre;
  return info;
}

/** A file as the walk found it: its real path, so symlinks never make two songs of one file. */
interface Walked {
  files: string[];
  /** Folders that could not be read: the songs known under them are not taken as removed. */
  unreadable: string[];
  errors: ScanError[];
}

const within = (root: string, path: string) => path === root || path.startsWith(root + sep);

/**
 * Walks a folder with a few directory reads at once. Symlinks are followed only when their
 * target lies inside the root, and every folder is entered once by its real path, so a symlink
 * loop ends; a link that leads out, loops or dangles is reported and skipped.
 */
export async function walkFolder(root: string, start: string, signal?: AbortSignal): Promise<Walked> {
  const files = new Set<string>();
  const visited = new Set<string>([start]);
  const unreadable: string[] = [];
  const errors: ScanError[] = [];
  const queue = [start];
  const rel = (path: string) => relative(root, path) || '.';
  let active = 0;

  async function entry(dir: string, item: Dirent): Promise<void> {
    let path = join(dir, item.name);
    let kind: 'dir' | 'file' | 'other' = item.isDirectory() ? 'dir' : item.isFile() ? 'file' : 'other';
    if (item.isSymbolicLink()) {
      let target: string;
      let info: Stats;
      try {
        target = await realpath(path);
        info = await stat(target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code === 'ELOOP' ? 'SYMLINK_LOOP' : 'BROKEN_SYMLINK';
        errors.push({ path: rel(path), code });
        return;
      }
      if (!within(root, target)) {
        errors.push({ path: rel(path), code: 'SYMLINK_OUTSIDE_ROOT' });
        return;
      }
      path = target;
      kind = info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
    }
    if (kind === 'dir' && !visited.has(path)) {
      visited.add(path);
      queue.push(path);
    } else if (kind === 'file' && AUDIO_EXTENSIONS.has(extname(path).toLowerCase())) {
      files.add(path);
    }
  }

  async function readFolder(dir: string): Promise<void> {
    let items: Dirent[];
    try {
      items = await readdir(dir, { withFileTypes: true });
    } catch {
      unreadable.push(dir);
      errors.push({ path: rel(dir), code: 'UNREADABLE_FOLDER' });
      return;
    }
    for (const item of items) await entry(dir, item);
  }

  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (signal?.aborted) return reject(signal.reason);
      while (active < WALK_CONCURRENCY && queue.length) {
        const dir = queue.pop() as string;
        active++;
        readFolder(dir)
          .catch(reject)
          .finally(() => {
            active--;
            pump();
          });
      }
      if (!active && !queue.length) resolve();
    };
    pump();
  });
  return { files: [...files].sort(), unreadable, errors };
}

/** A new or changed file, read and waiting for its catalog write. */
interface Prepared {
  file: string;
  info: Stats;
  track: TrackInfo;
  songId: string | undefined;
  /** Names the file's bytes as media knows them: path, size and mtime. */
  hash: string;
}

type Counter = 'added' | 'updated' | 'unchanged' | 'removed' | 'failed';

export interface LibraryDeps {
  db: Db;
  catalog: CatalogService;
  media: MediaService;
  jobs: JobQueue;
  log: FastifyBaseLogger;
  musicDir: string | undefined;
}

/**
 * Imports a music folder into the catalog, one scan at a time, as a durable job. Files are
 * keyed by their real path with size and mtime: unchanged ones cost a stat, changed ones are
 * read again, gone ones take their songs (and emptied albums) with them.
 */
export function createLibraryService(deps: LibraryDeps) {
  const { db, catalog, media } = deps;

  async function findScan(id: string): Promise<LibraryScanRow | undefined> {
    const [row] = await db.select().from(libraryScans).where(eq(libraryScans.id, id));
    return row;
  }

  async function activeScan(): Promise<LibraryScanRow | undefined> {
    const [row] = await db
      .select()
      .from(libraryScans)
      .where(inArray(libraryScans.status, ['queued', 'running']));
    return row;
  }

  /** The folder a request names, checked to be a folder inside the music root. */
  async function resolveFolder(root: string, path: string): Promise<string> {
    const outside = () =>
      new ValidationError(
        'The path must be a folder inside the music folder',
        [{ path: '/path', message: 'is outside the music folder' }],
        'PATH_OUTSIDE_MUSIC_DIR',
      );
    if (isAbsolute(path) || path.split(/[\\/]/).includes('..') || path.includes('\0')) throw outside();
    let real: string;
    try {
      real = await realpath(join(root, path));
      if (!(await stat(real)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new ValidationError(
        'No such folder in the music folder',
        [{ path: '/path', message: 'is not a folder' }],
        'SCAN_PATH_NOT_FOUND',
      );
    }
    if (!within(root, real)) throw outside();
    return real;
  }

  /** Queues a scan of `path` under `root` (the music folder, or the CLI's folder). */
  async function startScan(input: { path?: string; full?: boolean; root?: string }): Promise<ScanView> {
    const configured = input.root ?? deps.musicDir;
    if (!configured) {
      throw new AppError(
        409,
        'MUSIC_DIR_NOT_CONFIGURED',
        'No music folder',
        'Set MUSIC_DIR to the music folder the server may scan',
      );
    }
    let root: string;
    try {
      root = await realpath(configured);
    } catch {
      throw new AppError(
        409,
        'MUSIC_DIR_UNAVAILABLE',
        'Music folder unavailable',
        'The music folder cannot be read',
      );
    }
    const path = (input.path ?? '').replace(/^\/+|\/+$/g, '');
    await resolveFolder(root, path);
    const id = crypto.randomUUID();
    try {
      await db.transaction(async (tx) => {
        await tx.insert(libraryScans).values({ id, path, root, full: input.full ? 1 : 0 });
        await enqueueJob(tx, SCAN_JOB, { scanId: id }, { maxAttempts: 3, uniqueKey: `scan:${id}` });
      });
    } catch (error) {
      if (!isUniqueViolation(error, 'media_library_scans_active_idx')) throw error;
      const running = await activeScan();
      if (running) throw new ScanRunningError(toScanView(running));
      throw error;
    }
    deps.jobs.wake();
    return toScanView((await findScan(id)) as LibraryScanRow);
  }

  // ------------------------------------------------------------------ the scan job

  async function runScan(ctx: JobContext<{ scanId: string }>): Promise<void> {
    const found = await findScan(ctx.payload.scanId);
    if (!found || found.status === 'done' || found.status === 'failed') return;
    const scan = found;
    await db
      .update(libraryScans)
      .set({ status: 'running', startedAt: scan.startedAt ?? new Date() })
      .where(eq(libraryScans.id, scan.id));
    let start: string;
    try {
      start = await resolveFolder(scan.root, scan.path);
    } catch {
      throw new PermanentJobError('FOLDER_UNAVAILABLE');
    }
    // A resumed scan counts again from the start: files it already did count as they did then.
    const counts = { total: 0, processed: 0, added: 0, updated: 0, unchanged: 0, removed: 0, failed: 0 };
    const errors: ScanError[] = [];
    const rel = (path: string) => relative(scan.root, path) || '.';
    const fail = (path: string, code: string) => {
      counts.failed++;
      if (errors.length < MAX_ERRORS) errors.push({ path: rel(path), code });
    };
    // A throttle on elapsed time (monotonic), not business time.
    let flushedAt = Number.NEGATIVE_INFINITY;
    const flush = async (force = false) => {
      if (!force && performance.now() - flushedAt < PROGRESS_EVERY_MS) return;
      flushedAt = performance.now();
      await db
        .update(libraryScans)
        .set({ ...counts, errors })
        .where(eq(libraryScans.id, scan.id));
      await ctx.report({ scanId: scan.id, ...counts });
    };

    const walked = await walkFolder(scan.root, start, ctx.signal);
    for (const e of walked.errors) {
      counts.failed++;
      if (errors.length < MAX_ERRORS) errors.push(e);
    }
    counts.total = walked.files.length;
    await flush(true);

    const known = new Map(
      (
        await db
          .select()
          .from(libraryFiles)
          .where(sql`substr(${libraryFiles.path}, 1, ${start.length}) = ${start}`)
      ).map((row) => [row.path, row]),
    );
    const seen = new Set<string>();
    const coveredAlbums = new Set<string>();
    const count = (counter: Counter) => {
      counts[counter]++;
    };

    /** Stats a file and, when it is new or changed, reads its tags: what is left to write, if anything. */
    const prepare = async (file: string): Promise<Prepared | undefined> => {
      let info: Stats;
      try {
        info = await stat(file);
      } catch (error) {
        const gone = (error as NodeJS.ErrnoException).code === 'ENOENT';
        fail(file, gone ? 'FILE_VANISHED' : 'UNREADABLE');
        if (!gone) seen.add(file);
        return undefined;
      }
      seen.add(file);
      const row = known.get(file);
      if (row && !scan.full && row.size === info.size && row.mtimeMs === info.mtimeMs) {
        count(row.scanId === scan.id && row.change ? row.change : 'unchanged');
        return undefined;
      }
      if (info.size === 0) return void fail(file, 'EMPTY_FILE');
      const track = await readTrack(file, scan.root);
      if (typeof track === 'string') {
        if (track === 'FILE_VANISHED') seen.delete(file);
        return void fail(file, track);
      }
      const hash = createHash('sha256')
        .update(`library\u0000${file}\u0000${info.size}\u0000${info.mtimeMs}`)
        .digest('hex');
      return { file, info, track, songId: row?.songId, hash };
    };

    /**
     * Writes a batch of read files in one transaction, in path order (one album per key, its
     * first file's spelling). Should the batch fail, its files are written one by one, so a bad
     * file fails alone.
     */
    const write = async (items: Prepared[]): Promise<void> => {
      if (!items.length) return;
      try {
        await writeBatch(items);
        return;
      } catch (error) {
        if (ctx.signal.aborted || items.length === 1) {
          if (ctx.signal.aborted) throw error;
          const [item] = items as [Prepared];
          deps.log.warn({ err: error, file: rel(item.file) }, 'library file could not be imported');
          fail(item.file, error instanceof AppError ? error.code : 'IMPORT_FAILED');
          return;
        }
      }
      for (const item of items) await write([item]);
    };

    /** The catalog album each grouping key already stands for. */
    const mappedAlbums = async (keys: string[]): Promise<Map<string, string>> => {
      if (!keys.length) return new Map();
      const rows = await db
        .select({ key: libraryAlbums.key, albumId: libraryAlbums.albumId })
        .from(libraryAlbums)
        .innerJoin(albums, eq(albums.id, libraryAlbums.albumId))
        .where(inArray(libraryAlbums.key, [...new Set(keys)]));
      return new Map(rows.map((r) => [r.key, r.albumId]));
    };

    async function writeBatch(items: Prepared[]): Promise<void> {
      const keyOf = (item: Prepared) => item.track.albumKeys[0] as string;
      let mapped = await mappedAlbums(items.map(keyOf));
      // A changed file whose album changed: its old song goes (and its album when emptied) first.
      let moved = false;
      for (const item of items) {
        if (!item.songId) continue;
        const current = await catalog.getSong(LIBRARY_CALLER, item.songId).catch((error) => {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        });
        if (current && current.album.id === mapped.get(keyOf(item))) continue;
        if (current) await deleteSong(item.songId);
        item.songId = undefined;
        moved = true;
      }
      if (moved) mapped = await mappedAlbums(items.map(keyOf));

      // Keys to albums as one file after another would make them: a file whose first key names
      // no album makes one, and all its keys then name it (a number: the n-th new album).
      const plan = new Map<string, string | number>(mapped);
      const newAlbums: Prepared[] = [];
      const keyRows = new Map<string, number>();
      for (const item of items) {
        if (plan.has(keyOf(item))) continue;
        const n = newAlbums.push(item) - 1;
        for (const key of item.track.albumKeys) {
          plan.set(key, n);
          keyRows.set(key, n);
        }
      }

      const outcome = await db.transaction(async (tx) => {
        const names = [
          ...newAlbums.map((item) => item.track.albumArtist),
          ...items.map((item) => item.track.artist),
        ];
        const artistOf = await catalogBulk.artistsByName(tx, names);
        const artist = (name: string) => {
          const found = artistOf.get(name);
          if (!found) throw new Error(`artist ${name} was not created`);
          return found;
        };
        const created = await catalogBulk.insertAlbums(
          tx,
          newAlbums.map(({ track, info }) => ({
            artist: artist(track.albumArtist),
            title: track.album,
            genre: track.genre ?? UNKNOWN_GENRE,
            // An album without a year takes the year its first file was last written.
            releaseYear: track.year ?? Math.min(MAX_YEAR, Math.max(MIN_YEAR, info.mtime.getUTCFullYear())),
            releaseDate: track.releaseDate ?? null,
          })),
        );
        const idOf = (v: string | number) =>
          typeof v === 'number' ? (created[v] as catalogBulk.BulkAlbum).id : v;
        const albumOfKey = new Map([...plan].map(([key, v]) => [key, idOf(v)]));
        if (keyRows.size) {
          await tx
            .insert(libraryAlbums)
            .values([...keyRows].map(([key, n]) => ({ key, albumId: idOf(n) })))
            .onConflictDoUpdate({ target: libraryAlbums.key, set: { albumId: sql`excluded.album_id` } });
        }

        const locked = await catalogBulk.lockAlbumsForSongs(tx, [...albumOfKey.values()]);
        const stored = await media.registerExternal(
          tx,
          items.map((item) => ({
            hash: item.hash,
            ext: item.track.ext,
            bytes: item.info.size,
            externalPath: item.file,
          })),
        );
        const failed = new Map<Prepared, string>();
        const fresh: { item: Prepared; song: catalogBulk.BulkSongInput }[] = [];
        const songOf = new Map<Prepared, string>();
        for (const item of items) {
          const album = locked.get(albumOfKey.get(keyOf(item)) as string);
          if (!album) {
            failed.set(item, 'ALBUM_VANISHED');
            continue;
          }
          const { track } = item;
          const values = {
            artist: artist(track.artist),
            title: track.title,
            durationMs: track.durationMs,
            genre: track.genre ?? UNKNOWN_GENRE,
          };
          const ready = stored.get(item.hash);
          if (item.songId) {
            await catalogBulk.updateImportedSong(tx, item.songId, album, {
              ...values,
              ...(track.trackNumber ? { trackNumber: track.trackNumber } : {}),
            });
            await writeSongAudio(tx, item.songId, ready ?? { status: 'processing' }, ready?.durationMs);
            songOf.set(item, item.songId);
            continue;
          }
          if (album.songCount >= MAX_SONGS_PER_ALBUM) {
            failed.set(item, 'ALBUM_FULL');
            continue;
          }
          fresh.push({
            item,
            song: {
              ...values,
              ...(ready?.durationMs ? { durationMs: ready.durationMs } : {}),
              album,
              trackNumber: catalogBulk.placeTrack(album, track.trackNumber),
              audio: ready ?? { status: 'processing' },
            },
          });
        }
        const ids = await catalogBulk.insertSongs(
          tx,
          fresh.map((f) => f.song),
        );
        for (const [i, f] of fresh.entries()) songOf.set(f.item, ids[i] as string);
        const linked = items.filter((item) => songOf.has(item));
        await media.linkExternal(
          tx,
          linked.map((item) => ({ songId: songOf.get(item) as string, hash: item.hash })),
          linked.filter((item) => !stored.get(item.hash)).map((item) => item.hash),
        );
        const touched = [...new Set(linked.map((item) => albumOfKey.get(keyOf(item)) as string))];
        await catalogBulk.refreshAlbumsSongStats(tx, touched);
        if (linked.length) {
          await tx
            .insert(libraryFiles)
            .values(
              linked.map((item) => ({
                path: item.file,
                size: item.info.size,
                mtimeMs: item.info.mtimeMs,
                songId: songOf.get(item) as string,
                albumKey: keyOf(item),
                scanId: scan.id,
                change: item.songId ? ('updated' as const) : ('added' as const),
              })),
            )
            .onConflictDoUpdate({
              target: libraryFiles.path,
              set: {
                size: sql`excluded.size`,
                mtimeMs: sql`excluded.mtime_ms`,
                songId: sql`excluded.song_id`,
                albumKey: sql`excluded.album_key`,
                scanId: sql`excluded.scan_id`,
                change: sql`excluded.change`,
              },
            });
        }
        return {
          failed,
          linked,
          touched,
          artists: created.map((a) => a.artistId),
          covers: newAlbums.map((item) => ({
            albumId: albumOfKey.get(keyOf(item)) as string,
            folder: dirname(item.file),
          })),
        };
      });

      await catalog.invalidateAlbum(...outcome.touched);
      for (const artistId of new Set(outcome.artists)) await catalog.invalidateArtist(artistId);
      await catalog.invalidateSearch();
      deps.jobs.wake();
      for (const item of outcome.linked) count(item.songId ? 'updated' : 'added');
      for (const [item, code] of outcome.failed) fail(item.file, code);
      for (const { albumId, folder } of outcome.covers) {
        if (coveredAlbums.has(albumId)) continue;
        coveredAlbums.add(albumId);
        await folderCover(albumId, folder);
      }
    }

    /** Reads tags; a code when the file is not audio music-metadata understands. */
    async function readTrack(file: string, root: string): Promise<TrackInfo | string> {
      let metadata: IAudioMetadata;
      try {
        // Loaded on the first scan, not at start (serving does not need it). Embedded pictures
        // are skipped: the scan takes covers from files beside the music, and a picture (often
        // hundreds of KB, in every file of an album) would only be read to be thrown away.
        const { parseFile } = await import('music-metadata');
        metadata = await parseFile(file, { duration: false, skipCovers: true });
        if (!metadata.format.duration) metadata = await parseFile(file, { duration: true, skipCovers: true });
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_VANISHED' : 'NOT_AUDIO';
      }
      const ext = storedExtension(metadata.format.container, metadata.format.codec);
      if (!ext || !metadata.format.duration || !metadata.format.sampleRate) return 'NOT_AUDIO';
      return mapTrack(file, root, metadata, ext);
    }

    async function folderCover(albumId: string, folder: string): Promise<void> {
      for (const name of COVER_FILES) {
        const path = join(folder, name);
        if (
          !(await stat(path).then(
            (s) => s.isFile(),
            () => false,
          ))
        )
          continue;
        try {
          await media.coverFromFile(albumId, path);
        } catch {
          fail(path, 'UNREADABLE_COVER');
        }
        return;
      }
    }

    /** Stats (and reads) a batch of files with a few at once; the answer is in path order. */
    const readBatch = async (batch: string[]): Promise<(Prepared | undefined)[]> => {
      const prepared: (Prepared | undefined)[] = new Array(batch.length);
      let next = 0;
      const readers = Array.from({ length: READ_CONCURRENCY }, async () => {
        for (let j = next++; j < batch.length; j = next++) prepared[j] = await prepare(batch[j] as string);
      });
      await Promise.all(readers);
      return prepared;
    };
    const batches: string[][] = [];
    for (let i = 0; i < walked.files.length; i += READ_BATCH)
      batches.push(walked.files.slice(i, i + READ_BATCH));
    // The next batch is read while one is written.
    let reading = batches.length ? readBatch(batches[0] as string[]) : undefined;
    for (let b = 0; reading; b++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const prepared = await reading;
      reading = b + 1 < batches.length ? readBatch(batches[b + 1] as string[]) : undefined;
      // A read that failed must not go unhandled while this batch is written.
      reading?.catch(() => {});
      await write(prepared.filter((item): item is Prepared => item !== undefined));
      counts.processed += prepared.length;
      await flush();
    }

    // Songs of files that are gone, except under folders this walk could not read.
    const blocked = walked.unreadable;
    const gone = [...known.values()].filter(
      (row) => !seen.has(row.path) && !blocked.some((dir) => within(dir, row.path)),
    );
    for (let i = 0; i < gone.length; i += REMOVE_BATCH) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const batch = gone.slice(i, i + REMOVE_BATCH);
      await removeFiles(batch);
      counts.removed += batch.length;
      await flush();
    }
    await media.sweep();
    await db
      .update(libraryScans)
      .set({ ...counts, errors, status: 'done', finishedAt: new Date() })
      .where(eq(libraryScans.id, scan.id));
    await ctx.report({ scanId: scan.id, ...counts });
  }

  /** Deletes a song as an admin would (playlists and history follow the catalog's rules). */
  async function deleteSong(songId: string): Promise<void> {
    let albumId: string;
    try {
      albumId = (await catalog.getSong(LIBRARY_CALLER, songId)).album.id;
      await catalog.deleteSong(LIBRARY_CALLER, songId);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    const album = await catalog.getAlbumView(LIBRARY_CALLER, albumId).catch(() => undefined);
    const imported = await db.select().from(libraryAlbums).where(eq(libraryAlbums.albumId, albumId));
    if (album && album.songCount === 0 && imported.length) {
      await catalog.deleteAlbum(LIBRARY_CALLER, albumId);
      await db.delete(libraryAlbums).where(eq(libraryAlbums.albumId, albumId));
    }
  }

  /**
   * Forgets files that are gone, in one transaction: their songs are deleted as `deleteSong`
   * deletes one (playlists and play history follow the catalog's rules), then the imported
   * albums this left without songs.
   */
  async function removeFiles(rows: { path: string; songId: string }[]): Promise<void> {
    const outcome = await db.transaction(async (tx) => {
      const songs = await catalogBulk.deleteSongs(
        tx,
        rows.map((r) => r.songId),
      );
      const imported = songs.albumIds.length
        ? (
            await tx
              .selectDistinct({ albumId: libraryAlbums.albumId })
              .from(libraryAlbums)
              .where(inArray(libraryAlbums.albumId, songs.albumIds))
          ).map((r) => r.albumId)
        : [];
      const emptied = await catalogBulk.deleteEmptyAlbums(tx, imported);
      if (emptied.length) {
        await tx.delete(libraryAlbums).where(
          inArray(
            libraryAlbums.albumId,
            emptied.map((a) => a.id),
          ),
        );
      }
      await tx.delete(libraryFiles).where(
        inArray(
          libraryFiles.path,
          rows.map((r) => r.path),
        ),
      );
      return { albums: songs.albumIds, artists: [...new Set(emptied.map((a) => a.artistId))] };
    });
    if (outcome.albums.length) await catalog.invalidateAlbum(...outcome.albums);
    for (const artistId of outcome.artists) await catalog.invalidateArtist(artistId);
    await catalog.invalidateSearch();
  }

  /** A scan whose job failed for good (its folder vanished, or it kept crashing) says so. */
  async function scanFailed(payload: { scanId: string }): Promise<void> {
    await db
      .update(libraryScans)
      .set({ status: 'failed', finishedAt: new Date() })
      .where(and(eq(libraryScans.id, payload.scanId), inArray(libraryScans.status, ['queued', 'running'])));
  }

  deps.jobs.register<{ scanId: string }>(SCAN_JOB, { concurrency: 1, run: runScan, onFailed: scanFailed });

  return {
    startScan,

    async getScan(id: string): Promise<ScanView> {
      const row = await findScan(id);
      if (!row) throw new NotFoundError('Scan', 'SCAN_NOT_FOUND');
      return toScanView(row);
    },

    async activeScan(): Promise<ScanView | undefined> {
      const row = await activeScan();
      return row && toScanView(row);
    },

    async listScans(window: { limit: number; offset: number }) {
      const [rows, [totals]] = await Promise.all([
        db
          .select()
          .from(libraryScans)
          .orderBy(desc(libraryScans.createdAt), desc(libraryScans.id))
          .limit(window.limit)
          .offset(window.offset),
        db.select({ n: sql<number>`count(*)::int` }).from(libraryScans),
      ]);
      return { items: rows.map(toScanView), total: totals?.n ?? 0 };
    },
  };
}

export type LibraryService = ReturnType<typeof createLibraryService>;
