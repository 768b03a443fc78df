export { addDemoListeners } from './identity.demo.js';
export { identityRoutes } from './identity.routes.js';
export {
  AdminEmailTakenError,
  createIdentityService,
  type IdentityService,
  type UserDeletionHook,
  type UserView,
} from './identity.service.js';
