/**
 * Benchmark dataset generator:
 *   npm run bench:data -- --size S|M|L --target pglite|postgres [--seed N] [--now ISO-date]
 *     [--if-stale] [--fixtures-out file]
 * Draws a skewed, deterministic catalog (bench/dataset/plan.ts) and bulk-loads it into a
 * database migrated with the app's own migrations, then derives every maintained counter in SQL.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { hash } from '@node-rs/argon2';
import { MIGRATIONS_DIR } from '../src/platform/db.js';
import { FINAL_COUNTERS, MODULE_ROWS } from './dataset/modules.js';
import { BENCH_PASSWORD, type Fixtures, fixturesOf, planCatalog, SIZES, type Size } from './dataset/plan.js';
import {
  createIndexes,
  dropSecondaryIndexes,
  openExisting,
  readManifest,
  recreateDatabase,
  type SqlClient,
  type Target,
  tableExists,
  writeManifest,
} from './dataset/sql.js';

/** Bump when the plan changes, so the load suite regenerates datasets drawn by an older plan. */
const GENERATOR_VERSION = 2;

export interface Manifest {
  generator: number;
  size: Size;
  seed: number;
  now: string;
  migrations: string[];
  modules: string[];
  rows: Record<string, number>;
  loadSeconds: number;
  fixtures: Fixtures;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

function parseOptions() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: 'S' },
      target: { type: 'string', default: 'pglite' },
      seed: { type: 'string', default: '1' },
      now: { type: 'string' },
      'if-stale': { type: 'boolean', default: false },
      'fixtures-out': { type: 'string' },
    },
  });
  const size = values.size!.toUpperCase();
  if (!(size in SIZES)) throw new Error(`--size must be S, M or L (got ${values.size})`);
  if (values.target !== 'pglite' && values.target !== 'postgres') {
    throw new Error(`--target must be pglite or postgres (got ${values.target})`);
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer (got ${values.seed})`);
  // Timestamps are relative to the start of a day, so a seed gives the same rows all day long.
  const now = values.now ? new Date(values.now) : new Date();
  if (Number.isNaN(now.getTime())) throw new Error(`--now must be a date (got ${values.now})`);
  now.setUTCHours(0, 0, 0, 0);
  return {
    size: size as Size,
    target: values.target as Target,
    seed,
    nowMs: now.getTime(),
    ifStale: values['if-stale']!,
    fixturesOut: values['fixtures-out'],
  };
}

/** Each migration by name and content hash: a dataset is stale when any migration changed. */
const migrationNames = () =>
  readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const digest = createHash('sha256')
        .update(readFileSync(join(MIGRATIONS_DIR, f)))
        .digest('hex');
      return `${f}@${digest.slice(0, 12)}`;
    });

/** A dataset is reusable when the same plan drew it into the same schema. */
function isCurrent(manifest: Manifest | undefined, size: Size, seed: number): manifest is Manifest {
  return (
    manifest?.generator === GENERATOR_VERSION &&
    manifest.size === size &&
    manifest.seed === seed &&
    manifest.migrations.join() === migrationNames().join()
  );
}

async function verifyCounters(sql: SqlClient): Promise<void> {
  const [row] = await sql.query<{ wrong: number }>(
    `select count(*)::int as wrong from albums a
     left join (select album_id, count(*) as n, sum(duration_ms) as d from songs group by album_id) s
       on s.album_id = a.id
     where a.song_count <> coalesce(s.n, 0) or a.duration_ms <> coalesce(s.d, 0)`,
  );
  if (row!.wrong) throw new Error(`${row!.wrong} albums have counters that disagree with their songs`);
}

async function generate(target: Target, size: Size, seed: number, nowMs: number): Promise<Manifest> {
  const started = performance.now();
  log(`generating size ${size} (seed ${seed}) into ${target}`);
  const sql = await recreateDatabase(target, size);
  try {
    const plan = planCatalog(size, seed, nowMs);
    log(`  planned in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // The same library and cost settings as the identity service, once: argon2 is slow on
    // purpose. The salt comes from the seed so the whole dataset repeats (the password is public).
    const salt = createHash('sha256').update(`backbeat-bench-${seed}`).digest().subarray(0, 16);
    const passwordHash = await hash(BENCH_PASSWORD, { salt });

    const present = [];
    for (const module of MODULE_ROWS) {
      const missing = [];
      for (const table of module.tables) if (!(await tableExists(sql, table))) missing.push(table);
      if (missing.length)
        log(`  skipping ${module.module}: no table ${missing.join(', ')} in the schema yet`);
      else present.push(module);
    }

    // Rows are generated consistent; checking foreign keys row by row would only slow the load.
    await sql.query('set session_replication_role = replica');
    await sql.query(`set maintenance_work_mem = '${target === 'postgres' ? '1GB' : '256MB'}'`);
    const indexes = await dropSecondaryIndexes(
      sql,
      present.flatMap((m) => m.tables),
    );
    const rows: Record<string, number> = {};
    for (const module of present) {
      Object.assign(rows, await module.load({ sql, plan, passwordHash, log }));
    }
    await createIndexes(sql, indexes, log);
    await sql.query('set session_replication_role = origin');

    const countersStarted = performance.now();
    for (const statement of [...present.flatMap((m) => m.counters), ...FINAL_COUNTERS]) {
      await sql.query(statement);
    }
    await verifyCounters(sql);
    await sql.query('vacuum analyze');
    log(`  counters, vacuum and analyze in ${((performance.now() - countersStarted) / 1000).toFixed(1)} s`);

    const loadSeconds = Math.round((performance.now() - started) / 100) / 10;
    const manifest: Manifest = {
      generator: GENERATOR_VERSION,
      size,
      seed,
      now: new Date(nowMs).toISOString(),
      migrations: migrationNames(),
      modules: present.map((m) => m.module),
      rows,
      loadSeconds,
      fixtures: fixturesOf(plan),
    };
    await writeManifest(sql, manifest);
    const total = Object.values(rows).reduce((a, b) => a + b, 0);
    log(
      `done: ${total.toLocaleString('en-US')} rows in ${loadSeconds} s ` +
        `(${Math.round(total / loadSeconds).toLocaleString('en-US')} rows/s overall)`,
    );
    return manifest;
  } finally {
    await sql.close();
  }
}

/** The manifest of a current dataset of this size, or undefined when it must be (re)generated. */
async function currentManifest(target: Target, size: Size, seed: number): Promise<Manifest | undefined> {
  const sql = await openExisting(target, size);
  if (!sql) return undefined;
  try {
    const manifest = await readManifest<Manifest>(sql);
    return isCurrent(manifest, size, seed) ? manifest : undefined;
  } finally {
    await sql.close();
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  let manifest = options.ifStale
    ? await currentManifest(options.target, options.size, options.seed)
    : undefined;
  if (manifest) log(`size ${options.size} on ${options.target} is current (generated ${manifest.now})`);
  manifest ??= await generate(options.target, options.size, options.seed, options.nowMs);
  if (options.fixturesOut) {
    mkdirSync(dirname(options.fixturesOut), { recursive: true });
    writeFileSync(options.fixturesOut, JSON.stringify(manifest));
  }
}

await main();
