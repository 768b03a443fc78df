/**
 * Catalog writes in bulk, for the music folder import: many artists, albums and songs in a few
 * statements inside the caller's transaction, keeping what the service keeps one at a time
 * (derived `listed`, album and artist counters, unique artist names, track numbers unique per
 * album, an outbox event per album and song). After commit the caller invalidates the caches of
 * the albums and artists it touched (`invalidateAlbum`, `invalidateArtist`).
 */
import { sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { type Executor, rowsOf, sqlArray } from '../../platform/db.js';
import { outboxEvents } from '../../platform/events.js';
import { albums, artists, type SongAudio, songs } from './catalog.tables.js';

/** Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters. */
const CHUNK = 500;

export interface BulkArtist {
  id: string;
  name: string;
  isVisible: boolean;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * The artist of each name (case-insensitive, as artist names are unique), created when new with
 * the first spelling given. Takes the same per-name locks as album creation by `artistName`.
 */
export async function artistsByName(
  tx: Executor,
  names: readonly string[],
): Promise<Map<string, BulkArtist>> {
  const found = new Map<string, BulkArtist>();
  if (!names.length) return found;
  const list = sqlArray([...new Set(names)], 'text');
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.artist-name:' || k))
    from (select distinct lower(n) as k from unnest(${list}) as i(n) order by 1) as keys`);
  const lookup = () =>
    rowsOf<{ input: string; id: string; name: string; is_visible: boolean }>(
      tx,
      sql`select i.n as input, a.id, a.name, a.is_visible from unnest(${list}) as i(n)
        join ${artists} a on lower(a.name) = lower(i.n)`,
    );
  let rows = await lookup();
  const known = new Set(rows.map((r) => r.input));
  const missing = names.filter((n) => !known.has(n));
  if (missing.length) {
    // Spellings one lower() apart are left to the unique index: the first one inserted wins.
    const fresh = [...new Set(missing)];
    for (const part of chunks(fresh)) {
      await tx
        .insert(artists)
        .values(part.map((name) => ({ id: uuidv7(), name })))
        .onConflictDoNothing();
    }
    rows = await lookup();
  }
  for (const r of rows) found.set(r.input, { id: r.id, name: r.name, isVisible: r.is_visible });
  return found;
}

export interface BulkAlbumInput {
  artist: BulkArtist;
  title: string;
  genre: string;
  releaseYear: number;
  releaseDate: string | null;
}

export interface BulkAlbum {
  id: string;
  artistId: string;
  listed: boolean;
  releaseYear: number;
}

/** New public albums; their artists' album counts are recounted. */
export async function insertAlbums(tx: Executor, inputs: readonly BulkAlbumInput[]): Promise<BulkAlbum[]> {
  const rows = inputs.map((a) => ({
    id: uuidv7(),
    artistId: a.artist.id,
    artistName: a.artist.name,
    title: a.title,
    genre: a.genre,
    releaseYear: a.releaseYear,
    releaseDate: a.releaseDate,
    listed: a.artist.isVisible,
  }));
  if (!rows.length) return [];
  for (const part of chunks(rows)) await tx.insert(albums).values(part);
  const artistIds = [...new Set(rows.map((r) => r.artistId))];
  await tx.execute(sql`update ${artists} set album_count = (select count(*)::int from ${albums} al
      where al.artist_id = ${artists.id} and al.is_public and al.is_visible)
    where ${artists.id} = any(${sqlArray(artistIds, 'uuid')})`);
  for (const part of chunks(rows)) {
    await tx
      .insert(outboxEvents)
      .values(
        part.map((r) => ({ type: 'catalog.album_added', payload: { albumId: r.id, artistId: r.artistId } })),
      );
  }
  return rows.map((r) => ({ id: r.id, artistId: r.artistId, listed: r.listed, releaseYear: r.releaseYear }));
}

export interface AlbumForSongs extends BulkAlbum {
  /** Track numbers in use on the album. */
  taken: Set<number>;
  songCount: number;
}

/**
 * Locks albums (in id order, as song writes lock their album) and reads what placing songs on
 * them needs. Albums deleted meanwhile are absent from the answer.
 */
export async function lockAlbumsForSongs(
  tx: Executor,
  albumIds: readonly string[],
): Promise<Map<string, AlbumForSongs>> {
  const out = new Map<string, AlbumForSongs>();
  if (!albumIds.length) return out;
  const ids = sqlArray([...new Set(albumIds)].sort(), 'uuid');
  const locked = await rowsOf<{ id: string; artist_id: string; listed: boolean; release_year: number }>(
    tx,
    sql`select id, artist_id, listed, release_year from ${albums} where id = any(${ids}) order by id for update`,
  );
  for (const r of locked) {
    out.set(r.id, {
      id: r.id,
      artistId: r.artist_id,
      listed: r.listed,
      releaseYear: r.release_year,
      taken: new Set(),
      songCount: 0,
    });
  }
  const tracks = await rowsOf<{ album_id: string; track_number: number }>(
    tx,
    sql`select album_id, track_number from ${songs} where album_id = any(${ids})`,
  );
  for (const t of tracks) {
    const album = out.get(t.album_id);
    if (!album) continue;
    album.taken.add(t.track_number);
    album.songCount++;
  }
  return out;
}

/** The number a new song takes: the one asked for when free, else the one after the album's last. */
export function placeTrack(album: AlbumForSongs, wanted: number | undefined): number {
  const n = wanted !== undefined && !album.taken.has(wanted) ? wanted : Math.max(0, ...album.taken) + 1;
  album.taken.add(n);
  album.songCount++;
  return n;
}

export interface BulkSongInput {
  album: AlbumForSongs;
  /** The track artist: on a compilation, each song's own. */
  artist: BulkArtist;
  title: string;
  trackNumber: number;
  durationMs: number;
  genre: string;
  audio: SongAudio;
}

/** New public songs on locked albums; returns their ids in input order. */
export async function insertSongs(tx: Executor, inputs: readonly BulkSongInput[]): Promise<string[]> {
  const rows = inputs.map((s) => ({
    id: uuidv7(),
    albumId: s.album.id,
    artistId: s.artist.id,
    artistName: s.artist.name,
    title: s.title,
    trackNumber: s.trackNumber,
    durationMs: s.durationMs,
    genre: s.genre,
    releaseYear: s.album.releaseYear,
    listed: s.album.listed,
    audio: s.audio,
  }));
  if (!rows.length) return [];
  for (const part of chunks(rows)) await tx.insert(songs).values(part);
  for (const part of chunks(rows)) {
    await tx.insert(outboxEvents).values(
      part.map((r) => ({
        type: 'catalog.song_added',
        payload: { songId: r.id, albumId: r.albumId, artistId: r.artistId },
      })),
    );
  }
  return rows.map((r) => r.id);
}

/** A re-read file's song, on the same (locked) album: its tags again, its track number when free. */
export async function updateImportedSong(
  tx: Executor,
  id: string,
  album: AlbumForSongs,
  values: { artist: BulkArtist; title: string; trackNumber?: number; durationMs: number; genre: string },
): Promise<void> {
  const [current] = await rowsOf<{ track_number: number }>(
    tx,
    sql`select track_number from ${songs} where id = ${id}`,
  );
  if (!current) return;
  let trackNumber = current.track_number;
  if (values.trackNumber !== undefined && !album.taken.has(values.trackNumber)) {
    album.taken.delete(trackNumber);
    trackNumber = values.trackNumber;
    album.taken.add(trackNumber);
  }
  await tx.execute(sql`update ${songs} set artist_id = ${values.artist.id}, artist_name = ${values.artist.name},
      title = ${values.title}, track_number = ${trackNumber}, duration_ms = ${values.durationMs},
      genre = ${values.genre}, updated_at = now()
    where id = ${id}`);
  await tx.insert(outboxEvents).values({
    type: 'catalog.song_updated',
    payload: { songId: id, albumId: album.id, artistId: values.artist.id },
  });
}

/** Recounts the songs and total duration of albums whose songs changed (the caller holds their locks). */
export async function refreshAlbumsSongStats(tx: Executor, albumIds: readonly string[]): Promise<void> {
  if (!albumIds.length) return;
  await tx.execute(sql`update ${albums} set
      song_count = (select count(*)::int from ${songs} s
        where s.album_id = ${albums.id} and s.is_public and s.is_visible),
      duration_ms = (select coalesce(sum(s.duration_ms), 0)::bigint from ${songs} s
        where s.album_id = ${albums.id} and s.is_public and s.is_visible),
      updated_at = now()
    where ${albums.id} = any(${sqlArray([...new Set(albumIds)], 'uuid')})`);
}

export interface DeletedSongs {
  /** The albums the deleted songs were on (their counters recounted). */
  albumIds: string[];
  /** How many of the songs still existed. */
  deleted: number;
}

/**
 * Deletes songs as `deleteSong` does one at a time: their albums locked (in id order), the rows
 * deleted (playlist entries, plays and the rest go by foreign-key cascade), the albums' counters
 * recounted and a `catalog.song_deleted` event each. Songs already gone are skipped.
 */
export async function deleteSongs(tx: Executor, songIds: readonly string[]): Promise<DeletedSongs> {
  if (!songIds.length) return { albumIds: [], deleted: 0 };
  const ids = sqlArray([...new Set(songIds)], 'uuid');
  const albumIds = (
    await rowsOf<{ id: string }>(
      tx,
      sql`select id from ${albums} where id in (select album_id from ${songs} where id = any(${ids}))
        order by id for update`,
    )
  ).map((r) => r.id);
  const deleted = await rowsOf<{ id: string; album_id: string; artist_id: string }>(
    tx,
    sql`delete from ${songs} where id = any(${ids}) returning id, album_id, artist_id`,
  );
  await refreshAlbumsSongStats(tx, albumIds);
  for (const part of chunks(deleted)) {
    await tx.insert(outboxEvents).values(
      part.map((r) => ({
        type: 'catalog.song_deleted',
        payload: { songId: r.id, albumId: r.album_id, artistId: r.artist_id },
      })),
    );
  }
  return { albumIds: [...new Set(deleted.map((r) => r.album_id))], deleted: deleted.length };
}

/**
 * Deletes those of the given albums that count no songs any more, as `deleteAlbum` does: their
 * remaining (hidden) songs go by cascade, their artists' album counts are recounted and each
 * gets a `catalog.album_deleted` event. Returns the albums deleted, with their artists.
 */
export async function deleteEmptyAlbums(
  tx: Executor,
  albumIds: readonly string[],
): Promise<{ id: string; artistId: string }[]> {
  if (!albumIds.length) return [];
  const ids = sqlArray([...new Set(albumIds)].sort(), 'uuid');
  await tx.execute(sql`select id from ${albums} where id = any(${ids}) order by id for update`);
  const deleted = await rowsOf<{ id: string; artist_id: string }>(
    tx,
    sql`delete from ${albums} where id = any(${ids}) and song_count = 0 returning id, artist_id`,
  );
  if (!deleted.length) return [];
  const artistIds = [...new Set(deleted.map((r) => r.artist_id))];
  await tx.execute(sql`update ${artists} set album_count = (select count(*)::int from ${albums} al
      where al.artist_id = ${artists.id} and al.is_public and al.is_visible and al.released)
    where ${artists.id} = any(${sqlArray(artistIds, 'uuid')})`);
  for (const part of chunks(deleted)) {
    await tx.insert(outboxEvents).values(
      part.map((r) => ({
        type: 'catalog.album_deleted',
        payload: { albumId: r.id, artistId: r.artist_id },
      })),
    );
  }
  return deleted.map((r) => ({ id: r.id, artistId: r.artist_id }));
}
