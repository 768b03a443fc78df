import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import {
  type Database,
  fromPglite,
  fromPostgres,
  lockDataDir,
  migrateDatabase,
  openPglite,
} from '../../src/platform/db.js';
import type { Size } from './plan.js';

export type Target = 'pglite' | 'postgres';

/** The little SQL surface the generator needs, over PGlite or a PostgreSQL connection. */
export interface SqlClient {
  readonly target: Target;
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

const BENCH_DATA_ROOT = new URL('../.data/', import.meta.url).pathname;
const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432';

/** Where a size's PGlite database lives (the server's DATA_DIR); git-ignored. */
export const pgliteDataDir = (size: Size) => join(BENCH_DATA_ROOT, size);

/** The bench database for a size on the PostgreSQL server of DATABASE_URL (or the local one). */
export function postgresUrl(size: Size, base = process.env.DATABASE_URL ?? DEFAULT_POSTGRES): string {
  const url = new URL(base);
  url.pathname = `/backbeat_bench_${size.toLowerCase()}`;
  return url.toString();
}

function pgliteClient(client: PGlite, database: Database): SqlClient {
  return {
    target: 'pglite',
    query: async <T>(text: string, params?: unknown[]) => (await client.query<T>(text, params)).rows,
    close: () => database.close(),
  };
}

function postgresClient(client: pg.Client): SqlClient {
  return {
    target: 'postgres',
    query: async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[],
    close: () => client.end(),
  };
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs `fn` on the server's maintenance database (to create, drop or look up databases). */
async function withAdmin<T>(url: string, fn: (client: pg.Client, name: string) => Promise<T>): Promise<T> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = await connect(target.toString());
  try {
    return await fn(admin, name);
  } finally {
    await admin.end();
  }
}

/** An empty database with the app's migrations applied; any previous bench data is dropped. */
export async function recreateDatabase(target: Target, size: Size): Promise<SqlClient> {
  if (target === 'pglite') {
    const dataDir = pgliteDataDir(size);
    const unlock = lockDataDir(dataDir);
    rmSync(join(dataDir, 'pgdata'), { recursive: true, force: true });
    const client = await openPglite(dataDir);
    const database = fromPglite(client, unlock);
    await migrateDatabase(database);
    return pgliteClient(client, database);
  }
  const url = postgresUrl(size);
  await withAdmin(url, async (admin, name) => {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
  });
  const pool = fromPostgres(url, 1);
  try {
    await migrateDatabase(pool, url);
  } finally {
    await pool.close();
  }
  return postgresClient(await connect(url));
}

/** The existing bench database of this size, or undefined when there is none yet. */
export async function openExisting(target: Target, size: Size): Promise<SqlClient | undefined> {
  if (target === 'pglite') {
    const dataDir = pgliteDataDir(size);
    if (!existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))) return undefined;
    const unlock = lockDataDir(dataDir);
    const client = await openPglite(dataDir);
    return pgliteClient(client, fromPglite(client, unlock));
  }
  const url = postgresUrl(size);
  const exists = await withAdmin(url, async (admin, name) => {
    const found = await admin.query('select 1 from pg_database where datname = $1', [name]);
    return found.rowCount === 1;
  });
  return exists ? postgresClient(await connect(url)) : undefined;
}

/** Whether a table exists in the migrated schema: a module's rows load only when its tables do. */
export async function tableExists(sql: SqlClient, table: string): Promise<boolean> {
  const [row] = await sql.query<{ found: boolean }>('select to_regclass($1) is not null as found', [
    `public.${table}`,
  ]);
  return row?.found === true;
}

/**
 * The manifest lives in the database's own comment: it travels with the data (a copied PGlite
 * directory, a restored dump) and needs no table the app would have to know about.
 */
export async function readManifest<T>(sql: SqlClient): Promise<T | undefined> {
  const [row] = await sql.query<{ comment: string | null }>(
    `select shobj_description(oid, 'pg_database') as comment from pg_database
     where datname = current_database()`,
  );
  try {
    return row?.comment?.startsWith('{') ? (JSON.parse(row.comment) as T) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeManifest(sql: SqlClient, manifest: unknown): Promise<void> {
  const [row] = await sql.query<{ statement: string }>(
    `select format('comment on database %I is %L', current_database(), $1::text) as statement`,
    [JSON.stringify(manifest)],
  );
  await sql.query(row!.statement);
}

export interface Column<R> {
  name: string;
  /** PostgreSQL type of the column, for the unnest() array parameter. */
  type: string;
  value: (row: R) => unknown;
  /**
   * SQL computing the stored value from the unnested one (named like the column), for types
   * an array parameter cannot carry: unnest() flattens a text[][] into single strings.
   */
  select?: string;
}

const BATCH_ROWS = 5_000;
const PROGRESS_EVERY_MS = 5_000;

const formatCount = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Inserts rows in batches of one statement each: one array parameter per column, expanded by
 * unnest(). One round trip and one parse per 5,000 rows, on PGlite and PostgreSQL alike,
 * without COPY support. Prints rows/s as it goes, so the time for a bigger size can be estimated.
 */
export async function insertRows<R>(
  sql: SqlClient,
  table: string,
  columns: Column<R>[],
  rows: Iterable<R>,
  log: (line: string) => void,
): Promise<number> {
  const names = columns.map((c) => c.name).join(', ');
  const statement =
    `insert into ${table} (${names}) select ${columns.map((c) => c.select ?? c.name).join(', ')} ` +
    `from unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) as source(${names})`;
  const started = performance.now();
  let lastReport = started;
  let inserted = 0;
  let batch: unknown[][] = columns.map(() => []);
  const flush = async () => {
    if (!batch[0]!.length) return;
    await sql.query(statement, batch);
    inserted += batch[0]!.length;
    batch = columns.map(() => []);
    const now = performance.now();
    if (now - lastReport > PROGRESS_EVERY_MS) {
      lastReport = now;
      log(
        `  ${table}: ${formatCount(inserted)} rows, ${formatCount(inserted / ((now - started) / 1000))} rows/s`,
      );
    }
  };
  for (const row of rows) {
    columns.forEach((column, i) => {
      batch[i]!.push(column.value(row));
    });
    if (batch[0]!.length >= BATCH_ROWS) await flush();
  }
  await flush();
  const seconds = (performance.now() - started) / 1000;
  log(
    `  ${table}: ${formatCount(inserted)} rows in ${seconds.toFixed(1)} s ` +
      `(${formatCount(inserted / Math.max(seconds, 0.001))} rows/s)`,
  );
  return inserted;
}

export interface IndexDefinition {
  name: string;
  definition: string;
}

/**
 * Drops the indexes of `tables` that no constraint needs, returning their definitions. Building
 * a GIN trigram index once over a full table is several times faster than growing it row by row.
 */
export async function dropSecondaryIndexes(sql: SqlClient, tables: string[]): Promise<IndexDefinition[]> {
  const indexes = await sql.query<IndexDefinition>(
    `select i.indexname as name, i.indexdef as definition from pg_indexes i
     where i.schemaname = 'public' and i.tablename = any($1::text[])
       and not exists (select 1 from pg_constraint c
                       where c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
    [tables],
  );
  for (const index of indexes) await sql.query(`drop index "${index.name}"`);
  return indexes;
}

export async function createIndexes(
  sql: SqlClient,
  indexes: IndexDefinition[],
  log: (line: string) => void,
): Promise<void> {
  const started = performance.now();
  for (const index of indexes) await sql.query(index.definition);
  log(`  ${indexes.length} indexes rebuilt in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
