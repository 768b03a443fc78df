// Listening events and their socket.io chat: the only file other modules import.

export { type ChatLimits, createLiveChat, DEFAULT_CHAT_LIMITS, type LiveChat } from './live.chat.js';
export { liveRoutes } from './live.routes.js';
export { createLiveService, type LiveService, positionAt } from './live.service.js';
/** Tables, for the notification feed (`event.started`). */
export { liveEvents } from './live.tables.js';
