// The media module's public surface: uploads, transcodes, signed streaming and pictures.
export { resolveFfmpeg } from './media.ffmpeg.js';
/** `sendFile` answers with a file (Range, ETag, HEAD), for modules that serve media themselves. */
export { sendFile } from './media.files.js';
export { importFolder } from './media.import.js';
export { libraryRoutes } from './media.library.routes.js';
export { CONTENT_TYPES } from './media.probe.js';
export { mediaApiRoutes, mediaFileRoutes, songFromFile } from './media.routes.js';
export { createLibraryService, type LibraryService, SCAN_JOB } from './media.scanner.js';
export { createMediaService, type MediaService, type Quality, TRANSCODE_JOB } from './media.service.js';
export { createUrlSigner, type UrlSigner } from './media.signing.js';
export { MediaStorage } from './media.storage.js';
