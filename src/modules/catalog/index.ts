// The catalog's public surface: the only file other modules import.

/** Bulk writes for the music folder import, inside the caller's transaction. */
export * as catalogBulk from './catalog.bulk.js';
export {
  type DemoActivity,
  type DemoActivityLoader,
  type DemoCatalog,
  type GeneratedCatalog,
  loadDemoCatalog,
  seededRandom,
} from './catalog.demo.js';
/**
 * Counter helpers that run inside the caller's transaction, so a follow (or a batch of plays)
 * and the counters it moves commit together. After commit, call `invalidateAlbum`/
 * `invalidateArtist` on the catalog service so cached reads show the new numbers.
 */
/** Whether an artist with this id exists (for links from other modules, e.g. artist accounts). */
export {
  addFollowerCounts,
  addSongPlays,
  artistExists,
  type ImageSet,
  imageHashesInUse,
  incrementAlbumFollowers,
  incrementArtistFollowers,
  type SongPlays,
  setAlbumRecentPlays,
  songInRowScope,
  writeAlbumImages,
  writeArtistImages,
  writeSongAudio,
} from './catalog.repo.js';
export { catalogRoutes } from './catalog.routes.js';

export {
  AlbumSchema,
  ArtistSchema,
  CreateSongBody,
  PlaylistSummarySchema,
  SongSchema,
} from './catalog.schemas.js';

/**
 * `createCatalogService` builds the service the routes use; `getVisibleSongs`/`getVisibleAlbums`
 * turn ids into views the caller may see; `albumVisibleTo`/`songVisibleTo` are the same rule as
 * a SQL condition for other modules' queries that join `albums` or `songs`.
 */
export {
  ALBUM_LISTS_TAG,
  type AlbumDetailView,
  type AlbumView,
  type ArtistView,
  type ArtistViewRow,
  albumVisibleTo,
  artistViewFor,
  artistVisibleTo,
  type CatalogService,
  createCatalogService,
  getVisibleAlbums,
  getVisibleSongs,
  type PlaylistSearch,
  type PlaylistSummaryView,
  type SongScope,
  type SongView,
  songScopeOf,
  songVisibleTo,
} from './catalog.service.js';
/** Tables, for foreign keys from other modules (follows, playlist tracks, plays). */
export { albums, artists, type SongAudio, songs } from './catalog.tables.js';
