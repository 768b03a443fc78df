import { afterAll, beforeAll } from 'vitest';
import { buildTestApp, call, createAdmin, register, type Session, type TestApp } from './helpers.js';

// Live bindings: a test file that calls `useAppWithAdminAndUser()` reads them once its
// `beforeAll` has run. Every test file gets its own copy of this module (vitest isolates files).
export let t: TestApp;
export let admin: Session;
export let user: Session;

/** One app on its own database copy for the calling test file, with an admin and a user. */
export function useAppWithAdminAndUser(
  env: Record<string, string> = {},
  extra: Parameters<typeof buildTestApp>[1] = {},
): void {
  beforeAll(async () => {
    t = await buildTestApp(env, extra);
    admin = await createAdmin(t.app);
    user = await register(t.app);
  });
  afterAll(() => t?.close());
}

export const get = (url: string, session?: Session, headers?: Record<string, string>) =>
  call(t.app, 'GET', url, { session, headers });

export const ids = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);

/**
 * The ids of `items` in the order the API promises for a sort: by `key` (either way), ties by
 * id ascending. Tests compare a listing against it.
 */
export function sortedIds<T extends { id: string }>(
  items: readonly T[],
  key: (item: T) => number | string,
  descending: boolean,
): string[] {
  return [...items]
    .sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      if (x !== y) return (x < y ? -1 : 1) * (descending ? -1 : 1);
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    })
    .map((item) => item.id);
}
