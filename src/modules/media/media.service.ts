import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthUser } from '../../platform/auth.js';
import { type Db, type Executor, withTx } from '../../platform/db.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type { Image } from '../../platform/http.js';
import {
  enqueueJob,
  enqueueJobs,
  type JobContext,
  type JobQueue,
  PermanentJobError,
} from '../../platform/jobs.js';
import {
  type CatalogService,
  imageHashesInUse,
  type SongAudio,
  type SongView,
  writeAlbumImages,
  writeArtistImages,
  writeSongAudio,
} from '../catalog/index.js';
import { type IdentityService, userImageHashesInUse, writeUserImages } from '../identity/index.js';
import { encodeRenditions, FfmpegError, segmentHls } from './media.ffmpeg.js';
import { type AudioProbe, probeAudio } from './media.probe.js';
import type { UrlSigner } from './media.signing.js';
import type { MediaStorage } from './media.storage.js';
import { audioFiles, imageFiles, type Rendition, songAudio } from './media.tables.js';
import { type ReceivedFile, unsupportedMedia } from './media.uploads.js';

export const TRANSCODE_JOB = 'media.transcode';
export const QUALITIES = ['low', 'medium', 'high', 'original'] as const;
export type Quality = (typeof QUALITIES)[number];

/** The MP3 ladder (API: low 64, medium 128, high 320 kbps), never above the source. */
const LADDER: [Exclude<Quality, 'original'>, number][] = [
  ['low', 64],
  ['medium', 128],
  ['high', 320],
];
/** MP3 bitrates below the ladder, for sources thinner than its lowest step. */
const THIN_BITRATES = [32, 40, 48, 56];
const HLS_SEGMENT_SECONDS = 6;
/** Loudness target for `trackGainDb` (ReplayGain 2.0's reference level). */
const TARGET_LUFS = -18;
const IMAGE_SIZES = [640, 300, 64] as const;
/** The catalog's bound on a song's duration. */
const MAX_SONG_MS = 3_600_000;
/** Uploads before folder imports: a person waits on an upload. */
export const UPLOAD_PRIORITY = 10;
/** Renditions of a scanned music folder wait behind every upload. */
export const LIBRARY_PRIORITY = 0;

export interface MediaDeps {
  db: Db;
  catalog: CatalogService;
  identity: IdentityService;
  storage: MediaStorage;
  signer: UrlSigner;
  jobs: JobQueue;
  ffmpeg: string;
  log: FastifyBaseLogger;
  transcodeConcurrency: number;
}

/**
 * Which file plays each quality: every step of the ladder at or below the source's bitrate is
 * encoded, a higher step plays the highest encoded one (a 128 kbps source: `high` is its 128
 * kbps rendition), and a source thinner than 64 kbps gets one rendition at its own rate.
 */
export function planRenditions(sourceKbps: number | null): Record<Exclude<Quality, 'original'>, Rendition> {
  const fits = (kbps: number) => sourceKbps === null || kbps <= sourceKbps * 1.05;
  const thin = [...THIN_BITRATES].reverse().find(fits) ?? THIN_BITRATES[0]!;
  let best: Rendition = { kbps: thin, file: `${thin}k.mp3` };
  const plan = {} as Record<Exclude<Quality, 'original'>, Rendition>;
  for (const [quality, kbps] of LADDER) {
    if (fits(kbps)) best = { kbps, file: `${kbps}k.mp3` };
    plan[quality] = best;
  }
  return plan;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export function createMediaService(deps: MediaDeps) {
  const { db, catalog, storage, signer, jobs } = deps;

  async function hashOfSong(songId: string) {
    const [row] = await db
      .select({ hash: audioFiles.hash, ext: audioFiles.ext, renditions: audioFiles.renditions })
      .from(songAudio)
      .innerJoin(audioFiles, eq(audioFiles.hash, songAudio.hash))
      .where(eq(songAudio.songId, songId));
    return row;
  }

  /** Points songs at an original and records their audio state; returns their album ids. */
  async function attachOriginal(
    tx: Executor,
    songIds: string[],
    file: { hash: string; ext: string; bytes: number; externalPath?: string },
    priority: number,
  ): Promise<string[]> {
    // Updating an existing row locks it, so a concurrent sweep cannot delete it under us.
    const [stored] = await tx
      .insert(audioFiles)
      .values({ hash: file.hash, ext: file.ext, bytes: file.bytes, externalPath: file.externalPath ?? null })
      .onConflictDoUpdate({ target: audioFiles.hash, set: { bytes: sql`excluded.bytes` } })
      .returning({ audio: audioFiles.audio });
    const albumIds: string[] = [];
    for (const songId of songIds) {
      await tx
        .insert(songAudio)
        .values({ songId, hash: file.hash })
        .onConflictDoUpdate({ target: songAudio.songId, set: { hash: file.hash, updatedAt: new Date() } });
      const ready = stored?.audio;
      const albumId = ready
        ? await writeSongAudio(tx, songId, ready, ready.durationMs)
        : await writeSongAudio(tx, songId, { status: 'processing' });
      if (albumId) albumIds.push(albumId);
    }
    if (!stored?.audio) {
      await enqueueJob(
        tx,
        TRANSCODE_JOB,
        { hash: file.hash },
        { priority, uniqueKey: `transcode:${file.hash}` },
      );
    }
    return albumIds;
  }

  /** Checks an upload's bytes: audio ffmpeg decodes, or 415 (and the temporary file is gone). */
  async function inspect(file: ReceivedFile): Promise<AudioProbe> {
    const probe = await probeAudio(deps.ffmpeg, file.tmp);
    if (!probe) {
      await storage.remove(file.tmp);
      throw unsupportedMedia('The file is not audio that can be decoded');
    }
    return probe;
  }

  /** Moves a checked upload to its content address and points the song at it. */
  async function storeAudio(songId: string, file: ReceivedFile, probe: AudioProbe): Promise<void> {
    await storage.commit(file.tmp, storage.original(file.hash, probe.ext));
    const albumIds = await withTx(db, (tx) =>
      attachOriginal(tx, [songId], { hash: file.hash, ext: probe.ext, bytes: file.bytes }, UPLOAD_PRIORITY),
    );
    await catalog.invalidateAlbum(...albumIds);
    jobs.wake();
    // The song's previous original may be used by nothing now.
    await sweep();
  }

  // ------------------------------------------------------------------ transcoding

  /** The transcode job: renditions, HLS ladder, loudness, then every song with these bytes is ready. */
  async function transcode(ctx: JobContext<{ hash: string }>): Promise<void> {
    const { hash } = ctx.payload;
    const [file] = await db.select().from(audioFiles).where(eq(audioFiles.hash, hash));
    if (!file) return;
    const source = file.externalPath ?? storage.original(hash, file.ext);
    const probe = await probeAudio(deps.ffmpeg, source).catch(() => null);
    if (!probe) throw new PermanentJobError('UNREADABLE_SOURCE');
    const plan = planRenditions(probe.bitrateKbps);
    const work = storage.tmpPath();
    try {
      await mkdir(work, { recursive: true });
      const distinct = [...new Map(Object.values(plan).map((r) => [r.file, r])).values()];
      let loudness: Awaited<ReturnType<typeof encodeRenditions>>;
      try {
        loudness = await encodeRenditions(
          deps.ffmpeg,
          source,
          distinct.map((r) => ({ file: join(work, r.file), kbps: r.kbps })),
          ctx.signal,
        );
        await ctx.report({ step: 'hls' });
        for (const rendition of distinct) {
          const dir = join(work, 'hls', rendition.file.replace('.mp3', ''));
          await mkdir(dir, { recursive: true });
          await segmentHls(deps.ffmpeg, join(work, rendition.file), dir, HLS_SEGMENT_SECONDS, ctx.signal);
        }
      } catch (error) {
        if (error instanceof FfmpegError && !ctx.signal.aborted) {
          deps.log.warn({ hash, stderr: error.stderr.slice(-2000) }, 'transcode failed');
          throw new PermanentJobError('TRANSCODE_FAILED');
        }
        throw error;
      }
      await storage.commit(work, storage.derived(hash));
      const audio: SongAudio = {
        status: 'ready',
        durationMs: probe.durationMs,
        source: {
          format: probe.format,
          codec: probe.codec,
          bitrateKbps: probe.bitrateKbps ?? Math.round((file.bytes * 8) / probe.durationMs),
          sampleRate: probe.sampleRate,
          channels: probe.channels,
          bytes: file.bytes,
        },
        qualities: [...QUALITIES],
        loudness: {
          integratedLufs: round1(loudness.integratedLufs),
          truePeakDb: round1(loudness.truePeakDb),
          trackGainDb: round1(TARGET_LUFS - loudness.integratedLufs),
        },
      };
      const albumIds = await withTx(db, async (tx) => {
        await tx.update(audioFiles).set({ renditions: plan, audio }).where(eq(audioFiles.hash, hash));
        return setAudioOfSongsWith(tx, hash, audio);
      });
      await catalog.invalidateAlbum(...albumIds);
      if (probe.tags.picture) await coverFromEmbedded(albumIds, probe.tags.picture.data);
    } finally {
      await storage.remove(work);
    }
  }

  async function setAudioOfSongsWith(tx: Executor, hash: string, audio: SongAudio): Promise<string[]> {
    const songs = await tx
      .select({ songId: songAudio.songId })
      .from(songAudio)
      .where(eq(songAudio.hash, hash));
    const albumIds: string[] = [];
    for (const { songId } of songs) {
      const albumId = await writeSongAudio(tx, songId, audio, audio.durationMs);
      if (albumId) albumIds.push(albumId);
    }
    return albumIds;
  }

  /** A transcode that failed for good: its songs say `failed` with the code. */
  async function transcodeFailed(payload: { hash: string }, error: Error): Promise<void> {
    const code = error instanceof PermanentJobError ? error.code : 'TRANSCODE_FAILED';
    const albumIds = await withTx(db, (tx) =>
      setAudioOfSongsWith(tx, payload.hash, { status: 'failed', error: code }),
    );
    await catalog.invalidateAlbum(...albumIds);
  }

  jobs.register<{ hash: string }>(TRANSCODE_JOB, {
    concurrency: deps.transcodeConcurrency,
    run: transcode,
    onFailed: transcodeFailed,
  });

  // ------------------------------------------------------------------ images

  /** Resizes a picture to the square sizes, stores them by content hash; 415 when it is no picture. */
  async function storeImage(input: Buffer | string, hash: string): Promise<Image[]> {
    const sharp = await loadSharp();
    let format: string | undefined;
    try {
      format = (await sharp(input).metadata()).format;
    } catch {
      format = undefined;
    }
    if (!format || !['jpeg', 'png', 'webp'].includes(format)) {
      throw unsupportedMedia('Send a JPEG, PNG or WebP picture');
    }
    const images: Image[] = [];
    for (const size of IMAGE_SIZES) {
      const target = storage.image(hash, size);
      // Encoded in memory first: a failure here is the picture's (a truncated or corrupt file whose
      // header read fine), a 415 like any other non-picture; writing the file is a separate step.
      let resized: Buffer;
      try {
        resized = await sharp(input)
          .rotate()
          .resize(size, size, { fit: 'cover' })
          .flatten({ background: '#ffffff' })
          .jpeg({ quality: 85, mozjpeg: true })
          .toBuffer();
      } catch {
        throw unsupportedMedia('The picture cannot be decoded (truncated or corrupt)');
      }
      const tmp = storage.tmpPath('.jpg');
      await writeFile(tmp, resized);
      await storage.commit(tmp, target);
      images.push({ url: `/media/images/${hash}-${size}.jpg`, width: size, height: size });
    }
    await db.insert(imageFiles).values({ hash }).onConflictDoNothing();
    return images;
  }

  async function receiveImage(file: ReceivedFile): Promise<{ images: Image[]; hash: string }> {
    try {
      return { images: await storeImage(file.tmp, file.hash), hash: file.hash };
    } finally {
      await storage.remove(file.tmp);
    }
  }

  /** An album without a cover takes the picture embedded in its first song that has one. */
  async function coverFromEmbedded(albumIds: string[], picture: Uint8Array): Promise<void> {
    const hash = createHash('sha256').update(picture).digest('hex');
    try {
      const images = await storeImage(Buffer.from(picture), hash);
      const covered = await withTx(db, async (tx) => {
        const changed: string[] = [];
        for (const albumId of new Set(albumIds)) {
          if (await writeAlbumImages(tx, albumId, { images, hash }, true)) changed.push(albumId);
        }
        return changed;
      });
      await catalog.invalidateAlbum(...covered);
      if (!covered.length) await sweep();
    } catch (error) {
      deps.log.warn({ err: error, albumIds }, 'embedded cover could not be used');
    }
  }

  // ------------------------------------------------------------------ clean-up

  /**
   * Frees what nothing refers to any more: audio rows of deleted songs, originals and their
   * renditions that no song plays, pictures no album, artist or user shows. A reference added
   * concurrently wins: the delete of a referenced original fails on its foreign key.
   */
  async function sweep(): Promise<void> {
    await db.execute(
      sql`delete from ${songAudio} sa where not exists (select 1 from songs s where s.id = sa.song_id)`,
    );
    await freeUnusedAudio();
    const images = (await db.select({ hash: imageFiles.hash }).from(imageFiles)).map((r) => r.hash);
    const inUse = new Set([
      ...(await imageHashesInUse(db, images)),
      ...(await userImageHashesInUse(db, images)),
    ]);
    for (const hash of images.filter((h) => !inUse.has(h))) {
      await db.delete(imageFiles).where(eq(imageFiles.hash, hash));
      await storage.remove(...IMAGE_SIZES.map((size) => storage.image(hash, size)));
    }
  }

  /**
   * What a deleted song may free: its audio link and the bytes no other song uses. A deletion
   * touches no picture, so this does not walk every stored file as `sweep` does: a rescan that
   * removes thousands of songs paid a whole sweep for each of them.
   */
  async function sweepSong(songId: string): Promise<void> {
    const freed = await db
      .delete(songAudio)
      .where(
        and(
          eq(songAudio.songId, songId),
          sql`not exists (select 1 from songs s where s.id = ${songAudio.songId})`,
        ),
      )
      .returning({ hash: songAudio.hash });
    if (freed.length) await freeUnusedAudio(freed.map((row) => row.hash));
  }

  /** Audio files (all, or those of `hashes`) no song uses any more: rows, originals, renditions. */
  async function freeUnusedAudio(hashes?: string[]): Promise<void> {
    const unused = await db
      .select({ hash: audioFiles.hash, ext: audioFiles.ext, externalPath: audioFiles.externalPath })
      .from(audioFiles)
      .where(
        and(
          hashes ? inArray(audioFiles.hash, hashes) : undefined,
          sql`not exists (select 1 from ${songAudio} sa where sa.hash = ${audioFiles.hash})`,
        ),
      );
    for (const file of unused) {
      try {
        await db.delete(audioFiles).where(eq(audioFiles.hash, file.hash));
      } catch {
        continue;
      }
      await storage.remove(
        storage.derived(file.hash),
        ...(file.externalPath ? [] : [storage.original(file.hash, file.ext)]),
      );
    }
  }

  // ------------------------------------------------------------------ the service

  return {
    /** `PUT /songs/:id/audio` after the body is on disk: checks it, stores it, starts the transcode. */
    async replaceAudio(caller: AuthUser, songId: string, file: ReceivedFile): Promise<SongView> {
      const probe = await inspect(file);
      await storeAudio(songId, file, probe);
      return catalog.getSong(caller, songId);
    },

    /** Ownership checks the routes run before any byte of an upload is read. */
    songToManage: (caller: AuthUser, songId: string) => catalog.songToManage(caller, songId),
    albumToManage: (caller: AuthUser, albumId: string) => catalog.albumToManage(caller, albumId),
    artistToManage: (caller: AuthUser, artistId: string) => catalog.artistToManage(caller, artistId),

    /** Multipart `POST /albums/:id/songs`: the song's fields default to the file's tags and duration. */
    async createSongFromFile(
      caller: AuthUser,
      albumId: string,
      file: ReceivedFile,
      fields: {
        title?: string;
        durationMs?: number;
        trackNumber?: number;
        genre?: string;
        explicit?: boolean;
      },
      fileName: string | undefined,
    ): Promise<SongView> {
      const probe = await inspect(file);
      const input = {
        ...fields,
        title: fields.title ?? probe.tags.title ?? titleFromFileName(fileName) ?? 'Untitled',
        durationMs: fields.durationMs ?? Math.min(probe.durationMs, MAX_SONG_MS),
      };
      const trackNumber = fields.trackNumber ?? probe.tags.trackNumber;
      let song: SongView;
      try {
        song = await catalog.addSong(caller, albumId, trackNumber ? { ...input, trackNumber } : input);
      } catch (error) {
        // A tag's track number already on the album: append instead, as the caller named none.
        const tagClash =
          error instanceof ConflictError && error.code === 'TRACK_NUMBER_TAKEN' && !fields.trackNumber;
        if (!tagClash) {
          await storage.remove(file.tmp);
          throw error;
        }
        song = await catalog.addSong(caller, albumId, input);
      }
      await storeAudio(song.id, file, probe);
      return catalog.getSong(caller, song.id);
    },

    async deleteAudio(caller: AuthUser, songId: string): Promise<void> {
      await catalog.songToManage(caller, songId);
      const albumIds = await withTx(db, async (tx) => {
        await tx.delete(songAudio).where(eq(songAudio.songId, songId));
        const albumId = await writeSongAudio(tx, songId, { status: 'none' });
        return albumId ? [albumId] : [];
      });
      await catalog.invalidateAlbum(...albumIds);
      await sweep();
    },

    /** A signed URL for one quality of a song the caller may see; 409 until its audio is ready. */
    async streamUrl(caller: AuthUser | null, songId: string, quality: Quality): Promise<string> {
      if (quality === 'original') {
        // The original plays as soon as it is stored (or, imported, referenced): no transcode needed.
        const song = await catalog.getSong(caller, songId);
        const stored = song.audio.status === 'failed' ? undefined : await hashOfSong(songId);
        if (!stored) throw new ConflictError('This song has no audio to stream yet', 'AUDIO_NOT_READY');
        return signer.sign(`/media/audio/${stored.hash}/original.${stored.ext}`);
      }
      const { hash, renditions } = await readyAudio(caller, songId);
      const file = renditions[quality]?.file;
      if (!file) throw new NotFoundError('Rendition', 'RENDITION_NOT_FOUND');
      return signer.sign(`/media/audio/${hash}/${file}`);
    },

    /**
     * The file of one quality of a song the caller may see, for callers that answer with the
     * bytes themselves (the Subsonic API) instead of redirecting to a signed URL.
     */
    async audioFile(
      caller: AuthUser | null,
      songId: string,
      quality: Quality,
    ): Promise<{ path: string; ext: string; kbps: number | null }> {
      const { hash, ext, renditions } = await readyAudio(caller, songId);
      if (quality === 'original') {
        const resolved = await resolveAudioFile(hash, `original.${ext}`);
        if (!resolved) throw new NotFoundError('Rendition', 'RENDITION_NOT_FOUND');
        return { ...resolved, kbps: null };
      }
      const rendition = renditions[quality];
      if (!rendition) throw new NotFoundError('Rendition', 'RENDITION_NOT_FOUND');
      return { path: join(storage.derived(hash), rendition.file), ext: 'mp3', kbps: rendition.kbps };
    },

    async hlsUrl(caller: AuthUser | null, songId: string): Promise<string> {
      const { hash } = await readyAudio(caller, songId);
      return signer.sign(`/media/audio/${hash}/hls/master.m3u8`);
    },

    resolveAudioFile,

    /** The HLS master playlist of an original: its variants, each signed until `expiresAt`. */
    async masterPlaylist(hash: string, expiresAt: number): Promise<string | null> {
      const [row] = await db.select().from(audioFiles).where(eq(audioFiles.hash, hash));
      if (!row?.renditions) return null;
      const distinct = [...new Map(Object.values(row.renditions).map((r) => [r.file, r])).values()];
      const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS'];
      for (const r of distinct.sort((a, b) => a.kbps - b.kbps)) {
        const name = r.file.replace('.mp3', '');
        lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${r.kbps * 1000 + 8000},CODECS="mp4a.40.34"`);
        lines.push(signer.sign(`/media/audio/${hash}/hls/${name}/index.m3u8`, expiresAt));
      }
      return `${lines.join('\n')}\n`;
    },

    /** A variant playlist with each segment URL signed until `expiresAt`. */
    async variantPlaylist(hash: string, variant: string, expiresAt: number): Promise<string | null> {
      let text: string;
      try {
        text = await readFile(join(storage.derived(hash), 'hls', variant, 'index.m3u8'), 'utf8');
      } catch {
        return null;
      }
      return text
        .split('\n')
        .map((line) =>
          /^seg[0-9]+\.ts$/.test(line.trim())
            ? signer.sign(`/media/audio/${hash}/hls/${variant}/${line.trim()}`, expiresAt)
            : line,
        )
        .join('\n');
    },

    imagePath: (hash: string, size: number) => storage.image(hash, size),
    imageSizes: IMAGE_SIZES as readonly number[],

    async setAlbumCover(caller: AuthUser, albumId: string, file: ReceivedFile | null) {
      await catalog.albumToManage(caller, albumId);
      const set = file ? await receiveImage(file) : { images: [], hash: null };
      await writeAlbumImages(db, albumId, set);
      await catalog.invalidateAlbum(albumId);
      await sweep();
      return catalog.getAlbumView(caller, albumId);
    },

    async setArtistImage(caller: AuthUser, artistId: string, file: ReceivedFile | null) {
      await catalog.artistToManage(caller, artistId);
      const set = file ? await receiveImage(file) : { images: [], hash: null };
      await writeArtistImages(db, artistId, set);
      await catalog.invalidateArtist(artistId);
      await sweep();
      return catalog.getArtist(caller, artistId);
    },

    async setAvatar(caller: AuthUser, file: ReceivedFile | null) {
      const set = file ? await receiveImage(file) : { images: [], hash: null };
      await writeUserImages(db, caller.id, set);
      await sweep();
      return deps.identity.getMe(caller);
    },

    /**
     * A scanned file, referenced in place (never copied, moved or written): the song streams
     * `original` at once and its renditions queue behind uploads.
     */
    async attachExternal(
      songId: string,
      file: { hash: string; ext: string; bytes: number; externalPath: string },
    ) {
      const albumIds = await withTx(db, (tx) => attachOriginal(tx, [songId], file, LIBRARY_PRIORITY));
      await catalog.invalidateAlbum(...albumIds);
      jobs.wake();
    },

    /**
     * Bulk import, first step (inside the caller's transaction): files referenced in place are
     * recorded; the answer holds the measured `audio` of those transcoded before (a rescan with
     * `full`), which their songs show at once.
     */
    async registerExternal(
      tx: Executor,
      files: readonly { hash: string; ext: string; bytes: number; externalPath: string }[],
    ): Promise<Map<string, SongAudio | null>> {
      const out = new Map<string, SongAudio | null>();
      for (let i = 0; i < files.length; i += 500) {
        const rows = await tx
          .insert(audioFiles)
          .values(files.slice(i, i + 500).map((f) => ({ ...f })))
          .onConflictDoUpdate({ target: audioFiles.hash, set: { bytes: sql`excluded.bytes` } })
          .returning({ hash: audioFiles.hash, audio: audioFiles.audio });
        for (const r of rows) out.set(r.hash, r.audio ?? null);
      }
      return out;
    },

    /**
     * Bulk import, second step: songs play their files, and the files not measured yet queue a
     * transcode behind uploads. Call `jobs.wake()` after commit.
     */
    async linkExternal(
      tx: Executor,
      links: readonly { songId: string; hash: string }[],
      unmeasured: readonly string[],
    ): Promise<void> {
      for (let i = 0; i < links.length; i += 500) {
        await tx
          .insert(songAudio)
          .values(links.slice(i, i + 500).map((l) => ({ songId: l.songId, hash: l.hash })))
          .onConflictDoUpdate({
            target: songAudio.songId,
            set: { hash: sql`excluded.hash`, updatedAt: new Date() },
          });
      }
      await enqueueJobs(
        tx,
        TRANSCODE_JOB,
        unmeasured.map((hash) => ({ payload: { hash }, uniqueKey: `transcode:${hash}` })),
        { priority: LIBRARY_PRIORITY },
      );
    },

    /** A picture beside scanned files (cover.jpg and the like) becomes the cover of an album without one. */
    async coverFromFile(albumId: string, path: string): Promise<boolean> {
      const bytes = await readFile(path);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const images = await storeImage(bytes, hash);
      const covered = await writeAlbumImages(db, albumId, { images, hash }, true);
      if (covered) await catalog.invalidateAlbum(albumId);
      else await sweep();
      return covered;
    },

    sweep,
    sweepSong,
  };

  /** What a signed media path names on disk, or null. Paths are checked by pattern: no traversal. */
  async function resolveAudioFile(hash: string, file: string): Promise<{ path: string; ext: string } | null> {
    // Renditions and segments sit at paths their name gives: no query per range request (a
    // player sends many). A file the sweep removed is simply not there (404).
    if (!file.startsWith('original.')) {
      return { path: join(storage.derived(hash), file), ext: file.slice(file.lastIndexOf('.') + 1) };
    }
    const [row] = await db.select().from(audioFiles).where(eq(audioFiles.hash, hash));
    if (!row) return null;
    if (file !== `original.${row.ext}`) return null;
    return { path: row.externalPath ?? storage.original(hash, row.ext), ext: row.ext };
  }

  async function readyAudio(caller: AuthUser | null, songId: string) {
    const song = await catalog.getSong(caller, songId);
    const stored = song.audio.status === 'ready' ? await hashOfSong(songId) : undefined;
    if (!stored?.renditions) {
      throw new ConflictError('This song has no audio ready to stream yet', 'AUDIO_NOT_READY');
    }
    return { hash: stored.hash, ext: stored.ext, renditions: stored.renditions };
  }
}

/** "03 - Song Name.flac" -> "Song Name". */
export function titleFromFileName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const base = name.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
  const title = base.replace(/^\s*[0-9]{1,3}\s*[-._)]?\s*/, '').trim();
  return (title || base).slice(0, 200) || undefined;
}

export type MediaService = ReturnType<typeof createMediaService>;

/**
 * sharp (libvips) is loaded on the first picture upload, not at start: it is tens of
 * megabytes of native code that serving never needs until then.
 */
async function loadSharp() {
  return (await import('sharp')).default;
}
