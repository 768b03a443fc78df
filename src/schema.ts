// Every module's tables, for drizzle-kit (migrations). The composition root, like app.ts: the
// platform depends on no module, so it cannot gather them.
export { albums, artists, songs } from './modules/catalog/catalog.tables.js';
export * from './modules/discovery/discovery.tables.js';
export * from './modules/identity/identity.tables.js';
export * from './modules/library/following.tables.js';
export * from './modules/library/notifications.tables.js';
export * from './modules/library/playlists.tables.js';
export * from './modules/live/live.tables.js';
export * from './modules/media/media.tables.js';
export * from './modules/subsonic/subsonic.tables.js';
export { outboxEvents } from './platform/events.js';
export { jobs } from './platform/jobs.js';
