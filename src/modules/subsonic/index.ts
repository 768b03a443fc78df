// The Subsonic / OpenSubsonic API under /rest, and the app passwords players sign in with.
export { type AppPasswords, createAppPasswords } from './app-passwords.js';
export { appPasswordRoutes, subsonicRoutes } from './subsonic.routes.js';
export { createSubsonicService, type SubsonicService } from './subsonic.service.js';
