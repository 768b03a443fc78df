import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, PGLITE_EXTENSIONS } from '../src/platform/db.js';
import { withDatabase } from './global-setup.js';

/**
 * The issue-17 migration carries existing data forward: users get usernames made from their
 * emails, songs stay public and visible and take their album's release year. It runs the
 * migrations before it, writes rows as the old schema had them, then runs the rest.
 */

/** A copy of the migrations folder whose journal stops before the issue-17 migration. */
function migrationsBeforeIssue17(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backbeat-migrations-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const journalPath = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const mine = journal.entries.findIndex((entry) => entry.tag.includes('issue17'));
  expect(mine).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, mine);
  writeFileSync(journalPath, JSON.stringify(journal));
  return dir;
}

type Run = (query: string) => Promise<Record<string, unknown>[]>;

const OLD_ROWS = `
  insert into users (id, email, password_hash, display_name, created_at) values
    ('01890000-0000-7000-8000-000000000001', 'ada.lovelace@example.test', 'x', 'Ada', now() - interval '3 days'),
    ('01890000-0000-7000-8000-000000000002', 'ada.lovelace@other.test', 'x', 'Ada 2', now() - interval '2 days'),
    ('01890000-0000-7000-8000-000000000003', 'jo@example.test', 'x', 'Jo', now() - interval '1 day'),
    ('01890000-0000-7000-8000-000000000004', '+++@example.test', 'x', 'Symbols', now());
  insert into artists (id, name) values ('01890000-0000-7000-8000-0000000000a1', 'Old Artist');
  insert into albums (id, artist_id, artist_name, title, genre, release_year, song_count, duration_ms)
    values ('01890000-0000-7000-8000-0000000000b1', '01890000-0000-7000-8000-0000000000a1', 'Old Artist',
            'Old Album', 'Rock', 1999, 2, 300000);
  insert into songs (id, album_id, artist_id, artist_name, title, track_number, duration_ms, genre) values
    ('01890000-0000-7000-8000-0000000000c1', '01890000-0000-7000-8000-0000000000b1',
     '01890000-0000-7000-8000-0000000000a1', 'Old Artist', 'One', 1, 100000, 'Rock'),
    ('01890000-0000-7000-8000-0000000000c2', '01890000-0000-7000-8000-0000000000b1',
     '01890000-0000-7000-8000-0000000000a1', 'Old Artist', 'Two', 2, 200000, 'Rock');`;

async function expectCarriedForward(run: Run) {
  const users = await run('select email, username from users order by created_at');
  expect(users).toEqual([
    { email: 'ada.lovelace@example.test', username: 'ada.lovelace' },
    { email: 'ada.lovelace@other.test', username: 'ada.lovelace2' },
    { email: 'jo@example.test', username: 'jo2' },
    { email: '+++@example.test', username: 'user' },
  ]);
  const songs = await run(
    'select is_public, is_visible, listed, release_year from songs order by track_number',
  );
  expect(songs).toEqual([
    { is_public: true, is_visible: true, listed: true, release_year: 1999 },
    { is_public: true, is_visible: true, listed: true, release_year: 1999 },
  ]);
  expect(await run('select album_type, song_count from albums')).toEqual([
    { album_type: 'album', song_count: 2 },
  ]);
}

/** Migrating from nothing twice takes a while on a busy machine. */
const MIGRATION_TIMEOUT_MS = 180_000;

describe('the issue-17 migration', { timeout: MIGRATION_TIMEOUT_MS }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('carries existing users and songs forward on PGlite', async () => {
    const before = migrationsBeforeIssue17();
    cleanups.push(() => rmSync(before, { recursive: true, force: true }));
    const client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
    cleanups.push(() => client.close());
    const db = drizzlePglite(client);
    await migratePglite(db, { migrationsFolder: before });
    await client.exec(OLD_ROWS);
    await migratePglite(db, { migrationsFolder: MIGRATIONS_DIR });
    await expectCarriedForward(async (query) => (await client.query<Record<string, unknown>>(query)).rows);
    await expect(
      db.execute(sql`insert into users (email, password_hash, display_name, username)
      values ('x@y.test', 'x', 'X', 'Bad Name')`),
    ).rejects.toThrow();
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'carries existing users and songs forward on PostgreSQL',
    async () => {
      const serverUrl = process.env.TEST_DATABASE_URL!;
      const name = `backbeat_mig_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      cleanups.push(async () => {
        await admin.query(`drop database if exists ${name} with (force)`);
        await admin.end();
      });
      const before = migrationsBeforeIssue17();
      cleanups.push(() => rmSync(before, { recursive: true, force: true }));
      const client = new pg.Client({ connectionString: withDatabase(serverUrl, name) });
      await client.connect();
      cleanups.push(() => client.end());
      const db = drizzlePg({ client });
      await migratePg(db, { migrationsFolder: before });
      await client.query(OLD_ROWS);
      await migratePg(db, { migrationsFolder: MIGRATIONS_DIR });
      await expectCarriedForward(async (query) => (await client.query(query)).rows);
    },
  );
});
