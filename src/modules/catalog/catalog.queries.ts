// Every catalog query, as one namespace for the services (`repo.findAlbum`), by resource and concern.
export * from './albums.repo.js';
export * from './artists.repo.js';
export * from './assets.repo.js';
export * from './catalog.repo.js';
export * from './counters.repo.js';
export * from './demo.repo.js';
export * from './songs.repo.js';
export * from './stats.repo.js';
