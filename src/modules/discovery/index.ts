// Discovery's public surface: plays, recently played, trending, recommendations and analytics.
export { addDemoPlays, type DemoPlay } from './discovery.demo.js';
export { discoveryRoutes } from './discovery.routes.js';
export { createDiscoveryService, type DiscoveryService } from './discovery.service.js';
