export { addDemoListeners } from './identity.demo.js';
export {
  findUserById,
  findUserByLogin,
  type UserRow,
  userExists,
  userImageHashesInUse,
  writeUserImages,
} from './identity.repo.js';
export { identityRoutes } from './identity.routes.js';
export { UserSchema } from './identity.schemas.js';
export {
  AdminEmailTakenError,
  createIdentityService,
  type IdentityService,
  type UserDeletionHook,
  type UserView,
} from './identity.service.js';
/** Tables, for joins on an account's display name (playlist cards, live chat messages). */
export { users } from './identity.tables.js';
