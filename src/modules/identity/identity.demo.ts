import type { Executor } from '../../platform/db.js';
import { users } from './identity.tables.js';

/**
 * Not an argon2 hash, so no password ever verifies against it: demo listeners exist to give the
 * demo catalog followers and plays, and cannot be signed in to.
 */
const NO_PASSWORD = '!demo-listener';

/** Adds `count` demo listener accounts (role user) in the caller's transaction; returns their ids. */
export async function addDemoListeners(tx: Executor, count: number): Promise<string[]> {
  if (count < 1) return [];
  const rows = await tx
    .insert(users)
    .values(
      Array.from({ length: count }, (_, i) => ({
        email: `listener-${i + 1}@backbeat.example`,
        username: `demo-listener-${i + 1}`,
        passwordHash: NO_PASSWORD,
        displayName: `Demo Listener ${i + 1}`,
      })),
    )
    .returning({ id: users.id });
  return rows.map((row) => row.id);
}
