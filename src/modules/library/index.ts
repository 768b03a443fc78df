// Following and notifications.

export { followedSince, isFollowingAlbum } from './following.repo.js';
export { followingRoutes } from './following.routes.js';
export { createFollowingService, type FollowingService } from './following.service.js';
export { notificationRoutes } from './notifications.routes.js';
export {
  createNotificationService,
  type NotificationService,
  type NotificationView,
} from './notifications.service.js';

// Playlists.
export { playlistRoutes } from './playlists.routes.js';
export {
  createPlaylistService,
  type PlaylistService,
  type PlaylistView,
  searchPublicPlaylists,
} from './playlists.service.js';
