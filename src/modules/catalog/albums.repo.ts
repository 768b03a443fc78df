import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { type AlbumRow, albumColumns, albumInScope, type Scope } from './catalog.repo.js';
import { albums, songs } from './catalog.tables.js';
import { songListedWith } from './songs.repo.js';

export async function findAlbum(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<AlbumRow | undefined> {
  const query = db.select(albumColumns).from(albums).where(eq(albums.id, id));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row;
}

/** Albums among `ids` in `scope`, in no particular order. */
export function findAlbumsByIds(db: Executor, ids: string[], scope: Scope): Promise<AlbumRow[]> {
  if (!ids.length) return Promise.resolve([]);
  return db
    .select(albumColumns)
    .from(albums)
    .where(and(inArray(albums.id, ids), albumInScope(scope)));
}

export type AlbumValues = Pick<
  AlbumRow,
  | 'title'
  | 'genre'
  | 'releaseYear'
  | 'releaseDate'
  | 'albumType'
  | 'coverUrl'
  | 'label'
  | 'isPublic'
  | 'isVisible'
  | 'publishAt'
  | 'released'
  | 'releasedAt'
  | 'listed'
>;

export async function insertAlbum(
  db: Executor,
  values: AlbumValues & { artistId: string; artistName: string },
): Promise<AlbumRow> {
  const [row] = await db.insert(albums).values(values).returning(albumColumns);
  return row!;
}

export async function updateAlbum(db: Executor, id: string, values: Partial<AlbumValues>): Promise<AlbumRow> {
  const [row] = await db
    .update(albums)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(albums.id, id))
    .returning(albumColumns);
  return row!;
}

export async function deleteAlbum(db: Executor, id: string): Promise<void> {
  await db.delete(albums).where(eq(albums.id, id));
}

/** Copies what songs derive from their album (`listed`, release year) after the album changed. */
export async function copyAlbumToSongs(
  tx: Executor,
  albumId: string,
  album: { listed: boolean; releaseYear: number },
): Promise<void> {
  await tx
    .update(songs)
    .set({ listed: songListedWith(album.listed), releaseYear: album.releaseYear })
    .where(eq(songs.albumId, albumId));
}

/** The songs an album's counters count: public and visible themselves. */
const countedSongOf = (albumId: string) =>
  sql`${songs.albumId} = ${albumId} and ${songs.isPublic} and ${songs.isVisible}`;

/** Recounts songs and total duration; the caller holds the album's row lock. */
export async function refreshAlbumSongStats(tx: Executor, albumId: string): Promise<AlbumRow> {
  const [row] = await tx
    .update(albums)
    .set({
      songCount: sql`(select count(*)::int from ${songs} where ${countedSongOf(albumId)})`,
      durationMs: sql`(select coalesce(sum(${songs.durationMs}), 0)::bigint from ${songs}
        where ${countedSongOf(albumId)})`,
      updatedAt: new Date(),
    })
    .where(eq(albums.id, albumId))
    .returning(albumColumns);
  return row!;
}
