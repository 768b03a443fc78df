// Every module's tables, for drizzle (relational queries) and drizzle-kit (migrations).
export { albums, artists, songs } from '../modules/catalog/catalog.tables.js';
export * from '../modules/discovery/discovery.tables.js';
export * from '../modules/identity/identity.tables.js';
export * from '../modules/library/following.tables.js';
export * from '../modules/library/notifications.tables.js';
export * from '../modules/library/playlists.tables.js';
export * from '../modules/live/live.tables.js';
export * from '../modules/media/media.tables.js';
export * from '../modules/subsonic/subsonic.tables.js';
export { outboxEvents } from './events.js';
export { jobs } from './jobs.js';
