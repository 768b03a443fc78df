import { and, eq, sql } from 'drizzle-orm';
import { type Executor, rowsOf, sqlArray } from '../../platform/db.js';
import type { Image } from '../../platform/http.js';
import { refreshAlbumSongStats } from './albums.repo.js';
import { albums, artists, type SongAudio, songs } from './catalog.tables.js';

// ---------------------------------------------------------------------------------------------
// Written by the media module (inside its transactions)

/**
 * Sets a song's `audio` object and, when the file was measured, its duration (and so its
 * album's total). Returns the album id for cache invalidation, or undefined for a gone song.
 */
export async function writeSongAudio(
  tx: Executor,
  songId: string,
  audio: SongAudio,
  durationMs?: number,
): Promise<string | undefined> {
  const [row] = await tx
    .update(songs)
    .set({ audio, ...(durationMs ? { durationMs } : {}), updatedAt: new Date() })
    .where(eq(songs.id, songId))
    .returning({ albumId: songs.albumId });
  if (row && durationMs) await refreshAlbumSongStats(tx, row.albumId);
  return row?.albumId;
}

export interface ImageSet {
  images: Image[];
  hash: string | null;
}

/**
 * An album's cover. An `embedded` one (a song file's picture) is only written where the album
 * has no cover; an upload replaces whatever is there. Returns whether the album changed.
 */
export async function writeAlbumImages(tx: Executor, albumId: string, set: ImageSet, embedded = false) {
  const rows = await tx
    .update(albums)
    .set({
      images: set.images,
      imageHash: set.hash,
      coverUrl: set.images[0]?.url ?? null,
      updatedAt: new Date(),
    })
    .where(and(eq(albums.id, albumId), embedded ? sql`jsonb_array_length(${albums.images}) = 0` : undefined))
    .returning({ id: albums.id });
  return rows.length > 0;
}

export async function writeArtistImages(tx: Executor, artistId: string, set: ImageSet) {
  await tx
    .update(artists)
    .set({
      images: set.images,
      imageHash: set.hash,
      imageUrl: set.images[0]?.url ?? null,
      updatedAt: new Date(),
    })
    .where(eq(artists.id, artistId));
}

/** Image hashes among `hashes` that an album or artist still shows. */
export async function imageHashesInUse(db: Executor, hashes: string[]): Promise<Set<string>> {
  if (!hashes.length) return new Set();
  const rows = await rowsOf<{ hash: string }>(
    db,
    sql`select image_hash as hash from ${albums} where image_hash = any(${sqlArray(hashes, 'text')})
      union select image_hash from ${artists} where image_hash = any(${sqlArray(hashes, 'text')})`,
  );
  return new Set(rows.map((r) => r.hash));
}
