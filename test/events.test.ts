import { and, count, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { albums } from '../src/modules/catalog/index.js';
import { outboxEvents } from '../src/platform/events.js';
import { makeAlbum } from './factories.js';
import { buildTestApp, createAdmin, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('outbox relay', () => {
  it('delivers a committed event to a handler that queries the database, retrying a failure', async () => {
    const seen: Array<{ id: number; albumId: string; titles: number }> = [];
    let failuresLeft = 1;
    t.app.services.events.bus.subscribe(
      'catalog.album_added',
      async (event) => {
        // A handler may use the database while the relay works (PGlite has a single connection).
        const [row] = await t.database.db
          .select({ n: count() })
          .from(albums)
          .where(eq(albums.id, event.payload.albumId));
        if (failuresLeft-- > 0) throw new Error('first delivery fails on purpose');
        seen.push({ id: event.id, albumId: event.payload.albumId, titles: row?.n ?? 0 });
      },
      'every-process',
    );
    const admin = await createAdmin(t.app);
    const album = await makeAlbum(t.app, admin);
    await until(() => seen.some((e) => e.albumId === album.id));
    const delivered = seen.filter((e) => e.albumId === album.id);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.titles).toBe(1);
    expect(failuresLeft).toBe(-1);
  });

  it('marks delivered events published, and delivers again only the one whose handler failed', async () => {
    const delivered = new Map<string, number>();
    let failed = false;
    t.app.services.events.bus.subscribe(
      'catalog.album_added',
      async (event) => {
        const { albumId } = event.payload;
        // The second album delivered fails once; the relay goes on with the rest of its batch.
        if (!failed && delivered.size === 1 && !delivered.has(albumId)) {
          failed = true;
          throw new Error('this delivery fails on purpose');
        }
        delivered.set(albumId, (delivered.get(albumId) ?? 0) + 1);
      },
      'every-process',
    );
    const admin = await createAdmin(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await makeAlbum(t.app, admin)).id);
    await until(() => ids.every((id) => delivered.has(id)));
    const published = async () => {
      const [row] = await t.database.db
        .select({ n: count() })
        .from(outboxEvents)
        .where(
          and(
            eq(outboxEvents.type, 'catalog.album_added'),
            inArray(sql`${outboxEvents.payload}->>'albumId'`, ids),
            isNotNull(outboxEvents.publishedAt),
          ),
        );
      return row?.n ?? 0;
    };
    const deadline = Date.now() + 10_000;
    while ((await published()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await published()).toBe(3);
    expect(failed).toBe(true);
    expect(ids.map((id) => delivered.get(id))).toEqual([1, 1, 1]);
  });
});
