import { eq } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { artists } from './catalog.tables.js';

/** Whether an artist with this id exists (for links from other modules, e.g. artist accounts). */
export async function artistExists(db: Executor, id: string): Promise<boolean> {
  const rows = await db.select({ id: artists.id }).from(artists).where(eq(artists.id, id)).limit(1);
  return rows.length > 0;
}
