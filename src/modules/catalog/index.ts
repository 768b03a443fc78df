// The catalog's public surface: the only file other modules import.

/**
 * Counter helpers that run inside the caller's transaction, so a follow (or a batch of plays)
 * and the counters it moves commit together. After commit, call `invalidateAlbum`/
 * `invalidateArtist` on the catalog service so cached reads show the new numbers.
 */
/** Whether an artist with this id exists (for links from other modules, e.g. artist accounts). */
export { artistExists } from './artists.repo.js';
export {
  type ImageSet,
  imageHashesInUse,
  writeAlbumImages,
  writeArtistImages,
  writeSongAudio,
} from './assets.repo.js';
/**
 * `createCatalogService` builds the service the routes use; `getVisibleSongs`/`getVisibleAlbums`
 * turn ids into views the caller may see; `albumVisibleTo`/`songVisibleTo` are the same rule as
 * a SQL condition for other modules' queries that join `albums` or `songs`.
 */
export {
  albumVisibleTo,
  artistViewFor,
  artistVisibleTo,
  getVisibleAlbums,
  getVisibleSongs,
  type SongScope,
  songScopeOf,
  songVisibleTo,
} from './catalog.access.js';
/** Bulk writes for the music folder import, inside the caller's transaction. */
export * as catalogBulk from './catalog.bulk.js';
/** Cache tags bumped after every change to what an album's or artist's cached reads show. */
export { ALBUM_LISTS_TAG, albumTag, artistTag } from './catalog.cache.js';
export {
  type DemoActivity,
  type DemoActivityLoader,
  type DemoCatalog,
  type GeneratedCatalog,
  loadDemoCatalog,
  seededRandom,
} from './catalog.demo.js';
/**
 * The visibility rule for everyone as SQL conditions (`listedSong('s')`, `listedAlbum()`): what
 * other modules' queries filter on when they show content to all alike (feeds, recommendations).
 */
export { listedAlbum, listedSong } from './catalog.listed.js';
/** Scheduled releases: the job that releases an album at its `publishAt`, for every job runner. */
export { ALBUM_RELEASE_JOB, albumReleaseJob } from './catalog.releases.js';
export { songInRowScope } from './catalog.repo.js';

export { catalogRoutes } from './catalog.routes.js';

export {
  AlbumSchema,
  ArtistSchema,
  CreateSongBody,
  PlaylistSummarySchema,
  SongSchema,
} from './catalog.schemas.js';
export { type CatalogService, createCatalogService, type PlaylistSearch } from './catalog.service.js';
/** Tables, for foreign keys from other modules (follows, playlist tracks, plays). */
export { albums, artists, foldedName, type SongAudio, songs } from './catalog.tables.js';
export type {
  AlbumDetailView,
  AlbumView,
  ArtistView,
  ArtistViewRow,
  PlaylistSummaryView,
  SongView,
} from './catalog.views.js';
export {
  addFollowerCounts,
  addSongPlays,
  incrementAlbumFollowers,
  incrementArtistFollowers,
  type SongPlays,
  setAlbumRecentPlays,
} from './counters.repo.js';
/** Listed-catalog analytics (top albums, genres, an artist's timeline), for discovery's stats. */
export { artistTimeline, genreStats, topAlbums } from './stats.repo.js';
