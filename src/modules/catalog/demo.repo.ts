import { sql } from 'drizzle-orm';
import type { Executor } from '../../platform/db.js';
import { albums, artists, songs } from './catalog.tables.js';

/** Whether the catalog has anything at all (the demo catalog loads only into an empty one). */
export async function catalogIsEmpty(db: Executor): Promise<boolean> {
  const rows = await db.select({ id: artists.id }).from(artists).limit(1);
  return rows.length === 0;
}

/** Rows per INSERT: well under PostgreSQL's 65,535 bind parameters, few round trips. */
const BULK_ROWS = 500;

/** Loads prepared rows, counters included, with multi-row inserts (the demo catalog, benches). */
export async function bulkInsertCatalog(
  tx: Executor,
  rows: {
    artists: (typeof artists.$inferInsert)[];
    albums: (typeof albums.$inferInsert)[];
    songs: (typeof songs.$inferInsert)[];
  },
): Promise<void> {
  for (let i = 0; i < rows.artists.length; i += BULK_ROWS) {
    await tx.insert(artists).values(rows.artists.slice(i, i + BULK_ROWS));
  }
  for (let i = 0; i < rows.albums.length; i += BULK_ROWS) {
    await tx.insert(albums).values(rows.albums.slice(i, i + BULK_ROWS));
  }
  for (let i = 0; i < rows.songs.length; i += BULK_ROWS) {
    await tx.insert(songs).values(rows.songs.slice(i, i + BULK_ROWS));
  }
}

/** Serialises demo loading across nodes sharing one database. */
export async function lockDemoLoad(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog.demo-load'))`);
}
