import { afterAll, beforeAll } from 'vitest';
import { buildTestApp, call, createAdmin, register, type Session, type TestApp } from './helpers.js';

// Live bindings: a test file that calls `useAppWithAdminAndUser()` reads them once its
// `beforeAll` has run. Every test file gets its own copy of this module (vitest isolates files).
export let t: TestApp;
export let admin: Session;
export let user: Session;

/** One app on its own database copy for the calling test file, with an admin and a user. */
export function useAppWithAdminAndUser(env: Record<string, string> = {}): void {
  beforeAll(async () => {
    t = await buildTestApp(env);
    admin = await createAdmin(t.app);
    user = await register(t.app);
  });
  afterAll(() => t?.close());
}

export const get = (url: string, session?: Session, headers?: Record<string, string>) =>
  call(t.app, 'GET', url, { session, headers });

export const ids = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);
