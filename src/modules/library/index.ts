// Following and notifications.

export { addDemoFollows, type DemoFollows } from './following.demo.js';
export { followedSince, isFollowingAlbum } from './following.repo.js';
export { followingRoutes } from './following.routes.js';
export { createFollowingService, type FollowingService } from './following.service.js';
export { notificationRoutes } from './notifications.routes.js';
export {
  createNotificationService,
  feedTag as notificationFeedTag,
  type NotificationService,
  type NotificationView,
} from './notifications.service.js';

// Playlists.
export { playlistRoutes } from './playlists.routes.js';
export {
  countPublicPlaylists,
  createPlaylistService,
  type PlaylistService,
  type PlaylistView,
  searchPublicPlaylists,
} from './playlists.service.js';
