import { and, asc, eq, sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { type ArtistRow, artistColumns, artistInScope, type Scope } from './catalog.repo.js';
import { albums, artists, songs } from './catalog.tables.js';
import { songListedWith } from './songs.repo.js';

export async function findArtist(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<ArtistRow | undefined> {
  const query = db.select(artistColumns).from(artists).where(eq(artists.id, id));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row;
}

/** The oldest artist in `scope` whose name matches case-insensitively. */
export async function findArtistByName(
  db: Executor,
  name: string,
  scope: Scope,
): Promise<ArtistRow | undefined> {
  const [row] = await db
    .select(artistColumns)
    .from(artists)
    .where(and(sql`lower(${artists.name}) = lower(${name})`, artistInScope(scope)))
    .orderBy(asc(artists.createdAt), asc(artists.id))
    .limit(1);
  return row;
}

/**
 * Serialises "link the artist of this name or create it" per name, so two concurrent album
 * creations with one new artist name cannot create the artist twice.
 */
export async function lockArtistName(tx: Executor, name: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.artist-name:' || lower(${name})))`);
}

export async function insertArtist(
  db: Executor,
  values: { name: string; bio?: string | null; imageUrl?: string | null; genres?: string[] },
): Promise<ArtistRow> {
  const [row] = await db.insert(artists).values(values).returning(artistColumns);
  return row!;
}

export async function updateArtist(
  db: Executor,
  id: string,
  values: Partial<Pick<ArtistRow, 'name' | 'bio' | 'imageUrl' | 'genres' | 'isVisible'>>,
): Promise<ArtistRow> {
  const [row] = await db
    .update(artists)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(artists.id, id))
    .returning(artistColumns);
  return row!;
}

export async function artistExists(db: Executor, id: string): Promise<boolean> {
  const rows = await db.select({ id: artists.id }).from(artists).where(eq(artists.id, id)).limit(1);
  return rows.length > 0;
}

export async function deleteArtist(db: Executor, id: string): Promise<void> {
  await db.delete(artists).where(eq(artists.id, id));
}

export async function artistHasAlbums(db: Executor, artistId: string): Promise<boolean> {
  const rows = await db.select({ id: albums.id }).from(albums).where(eq(albums.artistId, artistId)).limit(1);
  return rows.length > 0;
}

/** Whether the artist is a song's own artist (a track on someone else's album, say a compilation). */
export async function artistHasSongs(db: Executor, artistId: string): Promise<boolean> {
  const rows = await db.select({ id: songs.id }).from(songs).where(eq(songs.artistId, artistId)).limit(1);
  return rows.length > 0;
}

/** Recounts the albums everyone may see; the caller holds the artist's row lock. */
export async function refreshArtistAlbumCount(tx: Executor, artistId: string): Promise<void> {
  await tx
    .update(artists)
    .set({
      albumCount: sql`(select count(*)::int from ${albums} where ${albums.artistId} = ${artistId}
        and ${albums.isPublic} and ${albums.isVisible} and ${albums.released})`,
    })
    .where(eq(artists.id, artistId));
}

/**
 * Copies a new artist name onto their albums and songs; returns the albums touched: theirs and
 * those holding their songs.
 */
export async function renameArtistContent(tx: Executor, artistId: string, name: string): Promise<string[]> {
  const touched = await tx
    .update(albums)
    .set({ artistName: name })
    .where(eq(albums.artistId, artistId))
    .returning({ id: albums.id });
  // The artist's songs on other artists' albums (a compilation's tracks) show the name too.
  const songAlbums = await tx
    .update(songs)
    .set({ artistName: name })
    .where(eq(songs.artistId, artistId))
    .returning({ albumId: songs.albumId });
  return [...new Set([...touched.map((r) => r.id), ...songAlbums.map((r) => r.albumId)])];
}

/**
 * Re-derives `listed` of an artist's albums and their songs after the artist's visibility
 * changed (a song follows its album, whoever its own artist is).
 */
export async function relistArtistContent(
  tx: Executor,
  artistId: string,
  artistVisible: boolean,
): Promise<string[]> {
  const touched = await tx
    .update(albums)
    .set({
      listed: sql`${albums.isPublic} and ${albums.isVisible} and ${albums.released} and ${artistVisible}`,
    })
    .where(eq(albums.artistId, artistId))
    .returning({ id: albums.id });
  await tx.execute(sql`update ${songs} set listed = ${songListedWith(sql`a.listed`)} from ${albums} a
    where a.id = ${songs.albumId} and a.artist_id = ${artistId}`);
  return touched.map((r) => r.id);
}
