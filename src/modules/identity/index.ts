export { identityRoutes } from './identity.routes.js';
export { createIdentityService, type IdentityService, type UserView } from './identity.service.js';
