import { afterAll, beforeAll } from 'vitest';
import { createCatalogService } from '../src/modules/catalog/index.js';
import { createDiscoveryService, type DiscoveryService } from '../src/modules/discovery/index.js';
import type { AuthUser } from '../src/platform/auth.js';
import { t, useAppWithAdminAndUser } from './context.js';
import type { Session } from './helpers.js';

export { admin, t, user } from './context.js';

// Live bindings, as in context.ts: set once the calling file's `beforeAll` has run.
/** A discovery service on the test app's database whose clock the tests set (`setNow`). */
export let timed: DiscoveryService;
let now = new Date();

/** What `timed` takes as the current time from now on. */
export const setNow = (when: Date | number): void => {
  now = new Date(when);
};

/**
 * The app (its own database, an admin and a user, see `useAppWithAdminAndUser`) plus `timed`:
 * windows, the 30 s bound and popularity tested without sleeping.
 */
export function useAppWithTimedDiscovery(): void {
  useAppWithAdminAndUser();
  beforeAll(() => {
    const { cache } = t.app.services;
    timed = createDiscoveryService({
      db: t.database.db,
      cache,
      clock: () => now,
      catalog: createCatalogService({ db: t.database.db, cache }),
      log: t.app.log,
    });
  });
  afterAll(() => timed?.close());
}

/** A user's session as the caller the service takes. */
export const asCaller = (session: Session): AuthUser => ({
  id: session.user.id,
  role: 'user',
  artistId: null,
  sessionId: '',
});

/** Records an event through `timed` as if it happened at `when`. */
export async function playAt(
  when: Date | number,
  session: Session,
  songId: string,
  event: 'play' | 'complete' | 'skip' = 'play',
): Promise<void> {
  setNow(when);
  await timed.recordPlay(asCaller(session), songId, { event });
}
