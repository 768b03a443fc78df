import { and, asc, count, eq, inArray, max, ne, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { type Scope, type SongRow, songInScope, songWithAlbumColumns } from './catalog.repo.js';
import { albums, songs } from './catalog.tables.js';

/** A song is listed when its own switches are on and its album is listed (`albumListed`). */
const songListedWith = (albumListed: SQL | boolean) =>
  sql`(${albumListed} and ${songs.isPublic} and ${songs.isVisible})`;

/** Whether an album is listed: public, visible and released, by a visible artist. */
export const albumListed = (
  album: { isPublic: boolean; isVisible: boolean; released: boolean },
  artistVisible: boolean,
) => album.isPublic && album.isVisible && album.released && artistVisible;

/** Whether a song with these switches on an album with this `listed` is listed. */
export const songListed = (albumListed: boolean, song: { isPublic: boolean; isVisible: boolean }) =>
  albumListed && song.isPublic && song.isVisible;

/** Every song of an album in track order (albums are bounded, see MAX_SONGS_PER_ALBUM). */
export function listAlbumSongs(db: Executor, albumId: string): Promise<SongRow[]> {
  return db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(eq(songs.albumId, albumId))
    .orderBy(asc(songs.trackNumber), asc(songs.id));
}

export async function findSong(db: Executor, id: string): Promise<SongRow | undefined> {
  const [row] = await db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(eq(songs.id, id));
  return row;
}

/** Songs among `ids` in `scope`, in no particular order. */
export function findSongsByIds(db: Executor, ids: string[], scope: Scope): Promise<SongRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .select(songWithAlbumColumns)
    .from(songs)
    .innerJoin(albums, eq(albums.id, songs.albumId))
    .where(and(inArray(songs.id, ids), songInScope(scope)));
}

export async function albumSongCount(db: Executor, albumId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(songs).where(eq(songs.albumId, albumId));
  return row?.n ?? 0;
}

export async function nextTrackNumber(db: Executor, albumId: string): Promise<number> {
  const [row] = await db
    .select({ last: max(songs.trackNumber) })
    .from(songs)
    .where(eq(songs.albumId, albumId));
  return (row?.last ?? 0) + 1;
}

export async function trackNumberTaken(
  db: Executor,
  albumId: string,
  trackNumber: number,
  exceptSongId?: string,
): Promise<boolean> {
  const rows = await db
    .select({ id: songs.id })
    .from(songs)
    .where(
      and(
        eq(songs.albumId, albumId),
        eq(songs.trackNumber, trackNumber),
        exceptSongId ? ne(songs.id, exceptSongId) : undefined,
      ),
    )
    .limit(1);
  return rows.length > 0;
}

export type SongValues = Pick<
  SongRow,
  'title' | 'durationMs' | 'trackNumber' | 'genre' | 'explicit' | 'isPublic' | 'isVisible' | 'listed'
>;

export async function insertSong(
  db: Executor,
  values: SongValues & { albumId: string; artistId: string; artistName: string; releaseYear: number },
): Promise<string> {
  const [row] = await db.insert(songs).values(values).returning({ id: songs.id });
  return row!.id;
}

export async function updateSong(db: Executor, id: string, values: Partial<SongValues>): Promise<void> {
  await db
    .update(songs)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(songs.id, id));
}

export async function deleteSong(db: Executor, id: string): Promise<void> {
  await db.delete(songs).where(eq(songs.id, id));
}

export { songListedWith };
