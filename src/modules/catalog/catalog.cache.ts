import type { Executor } from '../../platform/db.js';
import * as repo from './catalog.queries.js';
import { type AlbumDetailView, toAlbumView, toSongView } from './catalog.views.js';

// ---------------------------------------------------------------------------------------------
// Cache

/** Every cached album list depends on this tag. */
export const ALBUM_LISTS_TAG = 'catalog:albums';
/**
 * What a search finds depends on this tag: bumped by every write to a name (artist, album, song)
 * or to what is listed, not by counters (the search index, see search-index.ts).
 */
export const SEARCH_TAG = 'catalog:search';
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

export { type AlbumRecord, albumTag, artistTag, loadAlbumRecord };
