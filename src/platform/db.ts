import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { type ExtractTablesWithRelations, type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { DEFAULT_PGLITE_QUEUE_MAX, DEFAULT_PGLITE_QUEUE_TIMEOUT_MS } from '../config.js';
import { lockDataDir } from './datadir-lock.js';
import { projectPath } from './paths.js';

/**
 * The database as the code sees it: typed by the driver only. Repositories name the tables they
 * query (`db.select().from(albums)`), so the platform needs no module's tables; drizzle's
 * relational `db.query.*` API, the one thing a schema generic would add, is not used. The
 * aggregation of every module's tables for drizzle-kit lives in `src/schema.ts`.
 */
type NoSchema = Record<string, never>;
export type Db = PgDatabase<PgQueryResultHKT, NoSchema>;
export type Tx = PgTransaction<PgQueryResultHKT, NoSchema, ExtractTablesWithRelations<NoSchema>>;
/** What a repository method runs its SQL on: the database itself or an open transaction. */
export type Executor = Db | Tx;

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Embedded database with PGLITE_QUEUE_MAX set: true while that many statements are
   * outstanding, so new API requests are answered 503 at once instead of queueing for seconds.
   * (Its queue also refuses a request that waited PGLITE_QUEUE_TIMEOUT: `schedulePglite`.)
   */
  busy?: () => boolean;
  /** Embedded database: statements and transactions outstanding on it (waiting or running). */
  queued?: () => number;
}

export const MIGRATIONS_DIR = projectPath('db', 'migrations');

/** PGlite loads extensions per instance; every open (and every clone) must name them. */
export const PGLITE_EXTENSIONS = { pg_trgm };

export { DataDirLockedError, lockDataDir } from './datadir-lock.js';

/**
 * A request turned away by the embedded database's queue: at its start, because
 * `PGLITE_QUEUE_MAX` statements are already outstanding, or at its first statement, because it
 * has waited `PGLITE_QUEUE_TIMEOUT` for it. It answers 503 with Retry-After (errors.ts) rather
 * than wait its turn for seconds; nothing of the request has run on the database.
 */
export class DatabaseBusyError extends Error {
  override name = 'DatabaseBusyError';
  readonly code = 'DATABASE_BUSY';
  constructor(readonly queued: number) {
    super(`the embedded database has ${queued} statements waiting`);
  }
}

/**
 * What the embedded database's queue knows of the API request a statement runs for: when the
 * request arrived, and whether any statement of it has started yet. Set for the rest of a request
 * by `enterRequestTurn` (app.ts, at `onRequest` and again at `preHandler`, after the body).
 */
export interface RequestTurn {
  readonly arrivedAt: number;
  started: boolean;
  /**
   * The request has been answered (or abandoned). Timers and callbacks it left behind carry its
   * context on (a flush it scheduled, an event it published): their statements are the server's
   * own work from then on, queued by their own time and never refused.
   */
  ended?: boolean;
}

const requestTurns = new AsyncLocalStorage<RequestTurn>();

/** A turn for an API request that arrived now. */
export const newRequestTurn = (): RequestTurn => ({
  arrivedAt: performance.now(),
  started: false,
  ended: false,
});

/**
 * Runs `fn` outside any request's turn: for work that serves several requests at once (a batch
 * of lookups), which one request's deadline must not refuse for all of them.
 */
export function outsideRequestTurn<T>(fn: () => T): T {
  return requestTurns.exit(fn);
}

/** Runs `next` (and everything it goes on to do asynchronously) as part of the request of `turn`. */
export function enterRequestTurn<T>(turn: RequestTurn, next: () => T): T {
  return requestTurns.run(turn, next);
}

/**
 * PGlite runs one statement at a time, synchronously, on this process's event loop, and lets
 * every other one wait in its mutexes; a statement that finishes hands over to the next in a
 * microtask, so while statements are queued the event loop never gets back to its sockets: new
 * requests wait unread in the kernel for seconds, where no bound or deadline can see them, and
 * then arrive all at once. This queue takes PGlite's place in front of it:
 *
 * - one top-level statement or transaction runs at a time, and the event loop turns between two
 *   (`setImmediate`), so requests are read as they come and queue here, in view;
 * - the oldest request goes first: statements are ordered by the arrival of the API request they
 *   belong to (the time they were queued for work that is not a request: jobs, the outbox relay),
 *   so a request that has started finishes before later ones take its turns;
 * - a request none of whose statements has started `maxWaitMs` after it arrived is refused
 *   (`DatabaseBusyError`, a 503 with Retry-After) at the next statement's end rather than run
 *   late; a request that has started is never refused half-way, and work that is not a request
 *   is never refused.
 *
 * `outstanding` counts top-level statements and transactions, waiting or running, for the bound
 * at admission (`Database.busy`).
 */
export function schedulePglite(
  client: PGlite,
  options: { maxWaitMs?: number } = {},
): { client: PGlite; outstanding: () => number } {
  const maxWaitMs = options.maxWaitMs ?? 0;
  interface Waiting {
    order: number;
    seq: number;
    turn: RequestTurn | undefined;
    start(): void;
    refuse(error: Error): void;
  }
  const waiting: Waiting[] = [];
  let outstanding = 0;
  let seq = 0;
  /** A statement is running, or the next one is about to be picked. */
  let active = false;

  /** A request none of whose statements has started within `maxWaitMs` of its arrival. */
  const expired = (entry: Waiting, now: number) => {
    const turn = entry.turn;
    return (
      maxWaitMs > 0 && turn !== undefined && !turn.ended && !turn.started && now - turn.arrivedAt > maxWaitMs
    );
  };
  const before = (a: Waiting, b: Waiting) => a.order < b.order || (a.order === b.order && a.seq < b.seq);

  /**
   * Refuses every waiting statement of a request past its deadline (so it is answered now, not
   * when its turn would have come), then starts the oldest request's next statement.
   */
  const startNext = () => {
    const now = performance.now();
    let first = -1;
    for (let i = 0; i < waiting.length; ) {
      const entry = waiting[i]!;
      if (expired(entry, now)) {
        waiting.splice(i, 1);
        entry.refuse(new DatabaseBusyError(outstanding));
        continue;
      }
      if (first < 0 || before(entry, waiting[first]!)) first = i;
      i++;
    }
    if (first < 0) {
      active = false;
      return;
    }
    const next = waiting.splice(first, 1)[0]!;
    if (next.turn && !next.turn.ended) next.turn.started = true;
    next.start();
  };

  const schedule = <T>(run: () => Promise<T>): Promise<T> => {
    outstanding++;
    const store = requestTurns.getStore();
    const turn = store?.ended ? undefined : store;
    return new Promise<T>((resolve, reject) => {
      waiting.push({
        order: turn?.arrivedAt ?? performance.now(),
        seq: seq++,
        turn,
        start: () => {
          let result: Promise<T>;
          try {
            result = run();
          } catch (error) {
            result = Promise.reject(error);
          }
          const done = () => {
            outstanding--;
            // Let the event loop read sockets and run timers before the next statement.
            setImmediate(startNext);
          };
          result.then(
            (value) => {
              done();
              resolve(value);
            },
            (error: unknown) => {
              done();
              reject(error);
            },
          );
        },
        refuse: (error) => {
          outstanding--;
          reject(error);
        },
      });
      if (!active) {
        active = true;
        setImmediate(startNext);
      }
    });
  };

  const proxy = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'query' && property !== 'exec' && property !== 'transaction') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (...args: unknown[]) =>
        schedule(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
  return { client: proxy, outstanding: () => outstanding };
}

/** Wraps an open PGlite instance (on disk, in memory or a test clone) as a `Database`. */
export function fromPglite(
  client: PGlite,
  onClose: () => void = () => {},
  options: { maxQueued?: number; maxWaitMs?: number } = {},
): Database {
  const queue = schedulePglite(client, { maxWaitMs: options.maxWaitMs });
  const db = drizzlePglite({ client: queue.client }) as unknown as Db;
  const maxQueued = options.maxQueued ?? 0;
  return {
    kind: 'pglite',
    db,
    queued: queue.outstanding,
    ...(maxQueued > 0 ? { busy: () => queue.outstanding() >= maxQueued } : {}),
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      await client.close();
      onClose();
    },
  };
}

/** How long a request waits for a connection before it is told the database is away (503). */
const CONNECT_TIMEOUT_MS = 5000;
/** Pause before the one retry of a statement that lost its connection: a restart's first gap. */
const RETRY_DELAY_MS = 200;

/**
 * A pool whose clients can never crash the process, and that retries idempotent work once.
 * pg-pool listens for `'error'` only on idle clients; a client checked out for a transaction
 * whose server goes away (restart, `pg_terminate_backend`) emits an `'error'` nobody handles,
 * which ends the process. The query that was running fails on its own and becomes a 503.
 */
class ResilientPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super(config);
    // An idle client that loses its server is dropped by the pool; the next query reconnects.
    this.on('error', () => {});
    this.on('connect', (client) => client.on('error', () => {}));
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg's overloads; drizzle calls (config, values)
  override query(...args: any[]): any {
    const query = pg.Pool.prototype.query as (...a: unknown[]) => Promise<unknown>;
    if (typeof args[args.length - 1] === 'function') return query.apply(this, args);
    const run = () => query.apply(this, args);
    return run().catch(async (error: unknown) => {
      if (!isDatabaseUnavailable(error) || !isReadOnly(args[0])) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      return run();
    });
  }
}

/**
 * A statement outside a transaction that only reads may run twice without changing anything.
 * Writes are not retried: the first attempt may have committed before the connection dropped.
 */
function isReadOnly(query: unknown): boolean {
  const text = typeof query === 'string' ? query : (query as { text?: unknown } | undefined)?.text;
  return (
    typeof text === 'string' &&
    /^\s*(select|with)\b/i.test(text) &&
    !/\b(insert|update|delete|merge|for\s+update|for\s+share|nextval|setval|pg_advisory)\b/i.test(text)
  );
}

/** Wraps a PostgreSQL server reached through a pool as a `Database`. */
export function fromPostgres(url: string, poolSize = 10): Database {
  const pool = new ResilientPool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  const db = drizzlePg({ client: pool }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    ping: async () => {
      await pool.query('select 1');
    },
    close: () => pool.end(),
  };
}

/**
 * PostgreSQL settings of the embedded database, on top of PGlite's own start parameters. Its
 * shared memory lives in the process's WebAssembly heap, which only grows: PostgreSQL's default
 * 128 MB of shared buffers end up as resident memory as pages are read, and in single-user mode
 * the lock and process tables sized for 100 connections serve one. Pages shared_buffers does not
 * hold are read again from the operating system's page cache. Measured figures: docs/operations.md.
 */
const PGLITE_SETTINGS: Record<string, string> = {
  shared_buffers: '32MB',
  max_connections: '5',
};

/**
 * Lays out a new PGlite database in `pgdata` in a short-lived child process. PGlite creates one
 * with two more WebAssembly instances of PostgreSQL (initdb and a helper) beside the one that
 * serves, which takes the process to about 800 MB resident; memory a process once held is not
 * handed back, so the server (or an import) that did this itself kept some 500 MB. The child
 * exits with all of it; this process then opens the database as it opens any existing one.
 */
async function createPgliteDataDir(pgdata: string): Promise<void> {
  const module = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(module)});
    const db = await PGlite.create(process.argv[1]); await db.close();`;
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '--eval', script, pgdata],
      { timeout: 120_000 },
      (error, _stdout, stderr) =>
        error
          ? reject(new Error(`creating the embedded database failed: ${stderr || error.message}`))
          : resolve(),
    );
  });
}

export async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    const pgdata = join(dataDir, 'pgdata');
    if (!existsSync(join(pgdata, 'PG_VERSION'))) {
      // Made beside and renamed when complete, so a creation cut short leaves no half database.
      const building = `${pgdata}.creating`;
      rmSync(building, { recursive: true, force: true });
      await createPgliteDataDir(building);
      // An empty pgdata (nothing else) gives way; one with files in it is not ours to delete.
      if (existsSync(pgdata)) rmdirSync(pgdata);
      renameSync(building, pgdata);
    }
  }
  const settings = Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  return PGlite.create(dataDir ? join(dataDir, 'pgdata') : undefined, {
    extensions: PGLITE_EXTENSIONS,
    startParams: [...PGlite.defaultStartParams, ...settings],
  });
}

/** Opens the database the configuration names: a PostgreSQL server, or PGlite in DATA_DIR. */
export async function openDatabase(options: {
  databaseUrl?: string;
  dataDir: string;
  /** PGlite only: statements and transactions that may wait before new ones get 503 (0: no bound). */
  pgliteQueueMax?: number;
  /** PGlite only: how long a request may wait for its first statement before it gets 503 (0: no limit). */
  pgliteQueueTimeoutMs?: number;
}): Promise<Database> {
  if (options.databaseUrl) return fromPostgres(options.databaseUrl);
  const unlock = lockDataDir(options.dataDir);
  try {
    return fromPglite(await openPglite(options.dataDir), unlock, {
      maxQueued: options.pgliteQueueMax ?? DEFAULT_PGLITE_QUEUE_MAX,
      maxWaitMs: options.pgliteQueueTimeoutMs ?? DEFAULT_PGLITE_QUEUE_TIMEOUT_MS,
    });
  } catch (error) {
    unlock();
    throw error;
  }
}

const MIGRATION_LOCK_KEY = 7_246_101;

/**
 * Applies pending migrations. On a PostgreSQL server several nodes may start at once, so the
 * migration runs under an advisory lock on one dedicated connection.
 */
export async function migrateDatabase(database: Database, url?: string): Promise<void> {
  if (database.kind === 'pglite') {
    await migratePglite(database.db as never, { migrationsFolder: MIGRATIONS_DIR });
    return;
  }
  if (!url) throw new Error('migrating PostgreSQL needs its URL');
  const client = new pg.Client({ connectionString: url });
  // A server that goes away mid-migration fails the migration, not the process.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await migratePg(drizzlePg({ client }), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/** Runs `fn` in a transaction; everything it writes commits together or not at all. */
export function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn);
}

/** True when a PostgreSQL error is a unique-constraint violation (optionally on one constraint). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = findPgError(error);
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/**
 * True for PostgreSQL's "data exception" class (22xxx): a value the database cannot take, such
 * as a NUL character in text or a number out of range. Those come from input, not from a bug.
 */
export function isDataException(error: unknown): boolean {
  return findPgError(error)?.code?.startsWith('22') ?? false;
}

/** SQLSTATEs of a server that is shutting down, starting up, or out of connections. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Client was closed/;

/**
 * True when an error says the database server is away (restarting, unreachable, or it ended
 * our connection) rather than that the request or the code is wrong: a 503, retried later.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown };
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNAVAILABLE_STATES.has(code) || UNAVAILABLE_ERRNOS.has(code) || /^08[0-9A-Z]{3}$/.test(code))
      return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
    current = e.cause;
  }
  return false;
}

/** drizzle wraps driver errors; the PostgreSQL fields live on the error or its cause. */
function findPgError(error: unknown): { code?: string; constraint?: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const candidate = current as { code?: unknown; constraint?: string; cause?: unknown };
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return candidate as { code: string; constraint?: string };
    }
    current = candidate.cause;
  }
  return undefined;
}

/** The element types `sqlArray` binds. */
export type SqlArrayType = 'uuid' | 'int' | 'bigint' | 'text' | 'bool' | 'timestamptz';

/**
 * Values as one array parameter (`$1::uuid[]`), for `= any(...)` and `unnest(...)`: hundreds of
 * ids bind as one value instead of hundreds, and the driver does the quoting.
 */
export const sqlArray = (values: readonly (string | number | boolean | null)[], type: SqlArrayType): SQL =>
  sql`${sql.param([...values])}::${sql.raw(type)}[]`;

/**
 * Statements built once per executor and key. Building a statement's SQL with drizzle costs
 * CPU on every request (about 360 us for an album page's two, 1.5 ms for a search's), while the
 * values change. Whether PostgreSQL parses it once too is the builder's choice: a named
 * prepared statement is parsed once per connection, an unnamed one is planned for its values.
 */
export function builtOnce<T>(
  cache: WeakMap<Executor, Map<string, T>>,
  db: Executor,
  key: string,
  build: () => T,
): T {
  let byKey = cache.get(db);
  if (!byKey) {
    byKey = new Map();
    cache.set(db, byKey);
  }
  let built = byKey.get(key);
  if (!built) {
    built = build();
    byKey.set(key, built);
  }
  return built;
}

/** A select field every row of a page carries: how many rows match in all (before the window). */
export const carriedTotal = () => sql<number>`count(*) over ()`.mapWith(Number);

/**
 * A page and its total from a statement whose rows carry it (`carriedTotal`): one statement
 * answers. A page past the end has no row to carry it, so `count` counts apart (an empty first
 * page has nothing to count).
 */
export async function pageWithCarriedTotal<R>(
  page: Promise<unknown[]>,
  count: () => Promise<{ total: number }[]>,
  offset: number,
): Promise<{ rows: R[]; total: number }> {
  const rows = (await page) as (R & { total: number })[];
  const carried = rows[0]?.total;
  const total = carried ?? (offset === 0 ? 0 : ((await count())[0]?.total ?? 0));
  return { rows: rows.map(({ total: _, ...row }) => row as R), total };
}

/** Runs raw SQL and returns its rows; both drivers answer `{ rows }`. */
export async function rowsOf<T>(db: Executor, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
