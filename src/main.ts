import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { type Config, ConfigError, loadConfig } from './config.js';
import { connectRedis, createCacheStore } from './platform/cache.js';
import { DataDirLockedError, fromPglite, migrateDatabase, openDatabase, openPglite } from './platform/db.js';
import { AppError } from './platform/errors.js';
import { projectPath } from './platform/paths.js';
import { linkOf } from './platform/redis.js';
import { resolveJwtSecret } from './platform/secrets.js';
import { ROLES } from './roles.js';

/**
 * The application (every module, Fastify and its plugins) is imported when a command needs
 * it, not before this file runs: `serve` starts opening the database first and loads these
 * meanwhile, as loading them and opening PGlite are the two largest parts of a start.
 */
const importApp = () => import('./app.js');

const OPENAPI_FILE = projectPath('openapi.json');
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * A process behind the gateway first answers "not ready" this long, so the gateway (checking
 * every second) stops sending it work before it stops listening.
 */
const DRAIN_NOTICE_MS = 1_500;

function fail(message: string): never {
  process.stderr.write(`backbeat: ${message}\n`);
  process.exit(1);
}

/**
 * DATA_DIR holds the database (its WAL has emails and password hashes) and the generated JWT
 * secret: only this user may read it. The umask makes every file written from here on 0600
 * and every directory 0700, PGlite's included; the directory itself is tightened too, which
 * also closes off files an earlier version left readable.
 */
function keepDataDirPrivate(dataDir: string): void {
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/**
 * PGlite lays out a new database with files of mode 0666 whatever the umask (its file system
 * layer sets modes itself), so once it is open its directory is walked and tightened: files
 * 0600, directories 0700. Files it makes later honour the umask. DATA_DIR itself is 0700 by
 * then (keepDataDirPrivate), so `serve` lets the walk (some 1,200 files) run on the thread
 * pool while it starts, and awaits it before it listens.
 */
async function tightenDatabaseFiles(dataDir: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          await chmod(path, 0o700);
          await walk(path);
        } else if (entry.isFile()) {
          await chmod(path, 0o600);
        }
      }),
    );
  };
  const pgdata = join(dataDir, 'pgdata');
  if (existsSync(pgdata)) await walk(pgdata);
}

async function migrateCommand(config: Config): Promise<void> {
  const database = await openDatabase(config);
  await tightenDatabaseFiles(config.dataDir);
  try {
    await migrateDatabase(database, config.databaseUrl);
    process.stdout.write(`migrations applied (${database.kind})\n`);
  } finally {
    await database.close();
  }
}

/** Writes (or with --check, compares) openapi.json from the route schemas. */
async function openapiCommand(config: Config, check: boolean): Promise<void> {
  const database = fromPglite(await openPglite(undefined));
  // The job queue starts with the app and needs its table.
  await migrateDatabase(database, undefined);
  const { buildApp } = await importApp();
  const app = await buildApp(
    { ...config, jwtSecret: 'openapi-generation-only-secret-0123456789abcdef', logLevel: 'silent' },
    { database, cacheStore: createCacheStore(undefined) },
  );
  await app.ready();
  const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
  await app.close();
  await database.close();
  if (!check) {
    writeFileSync(OPENAPI_FILE, document);
    process.stdout.write('openapi.json written\n');
    return;
  }
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8');
  } catch {}
  if (committed !== document)
    fail('openapi.json is out of date with the routes: run `npm run openapi` and commit it');
  process.stdout.write('openapi.json is up to date\n');
}

/**
 * Imports a music folder from a terminal. It opens the database itself, so with the embedded
 * database a running server (which holds DATA_DIR) must be stopped first. Transcodes are left
 * queued for the server: this process only scans.
 */
async function importCommand(baseConfig: Config, args: string[]): Promise<void> {
  const folder = args.find((arg) => !arg.startsWith('--'));
  if (!folder) fail('usage: npm run import -- <folder> [--full]');
  let database: Awaited<ReturnType<typeof openDatabase>>;
  try {
    database = await openDatabase(baseConfig);
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    fail(
      `a running server holds the database in ${baseConfig.dataDir}: stop it first, or ask it to scan with POST /api/v1/admin/library/scans`,
    );
  }
  const config = { ...resolveJwtSecret(baseConfig), logLevel: 'error', transcodeConcurrency: 0 };
  let status = 1;
  try {
    await migrateDatabase(database, config.databaseUrl);
    const [{ buildApp }, { importFolder }] = await Promise.all([
      importApp(),
      import('./modules/media/index.js'),
    ]);
    const app = await buildApp(config, { database, cacheStore: createCacheStore(undefined) });
    await app.ready();
    try {
      const scan = await importFolder(app.services.library, folder, {
        full: args.includes('--full'),
        out: process.stdout,
      });
      status = scan.status === 'done' ? 0 : 1;
    } finally {
      await app.close();
    }
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    process.stderr.write(`backbeat: ${error.message}\n`);
  } finally {
    await database.close();
  }
  process.exit(status);
}

async function serveCommand(baseConfig: Config): Promise<void> {
  const started = performance.now();
  const loading = Promise.all([
    importApp(),
    import('./platform/web-player.js'),
    import('./modules/catalog/index.js'),
    import('./demo-activity.js'),
    import('./modules/identity/index.js'),
  ]);
  // Awaited below; a failure to open the database must not leave it unhandled meanwhile.
  loading.catch(() => {});
  const database = await openDatabase(baseConfig);
  const tightened = tightenDatabaseFiles(baseConfig.dataDir);
  // Awaited before listening; a start that fails sooner must not leave it unhandled.
  tightened.catch(() => {});
  const config = resolveJwtSecret(baseConfig);
  let redis: Redis | undefined;
  try {
    await migrateDatabase(database, config.databaseUrl);
    redis = config.redisUrl ? connectRedis(config.redisUrl) : undefined;
    // Redis that is down at start only degrades the node: it serves on the fallbacks meanwhile.
    if (redis) await linkOf(redis).whenUp();
  } catch (error) {
    await database.close();
    throw error;
  }
  const [
    { buildApp },
    { ensureWebPlayerBuilt, WEB_PLAYER_DIR },
    { loadDemoCatalog },
    { addDemoActivity },
    identity,
  ] = await loading;
  const app = await buildApp(config, {
    database,
    cacheStore: createCacheStore(redis),
    redis,
    processMetrics: true,
    webPlayerDir: WEB_PLAYER_DIR,
  });
  await ensureWebPlayerBuilt(WEB_PLAYER_DIR, app.log);

  if (config.adminEmail && config.adminPassword) {
    let created: boolean;
    try {
      created = await app.services.identity.ensureAdmin(config.adminEmail, config.adminPassword);
    } catch (error) {
      await app.close();
      await database.close();
      redis?.disconnect();
      if (error instanceof identity.AdminEmailTakenError) fail(error.message);
      throw error;
    }
    if (created) app.log.info({ email: config.adminEmail }, 'created the configured admin account');
  }
  if (config.demoData) {
    const demo = await loadDemoCatalog({
      db: database.db,
      cache: app.services.cache,
      ensureAccount: app.services.identity.ensureAccount,
      addActivity: addDemoActivity,
    });
    if (demo) {
      const signIns = demo.accounts.map((a) => `  ${a.role.padEnd(6)} ${a.email} / ${a.password}\n`).join('');
      const activity = demo.activity
        ? `; ${demo.activity.listeners} listeners with ${demo.activity.follows} follows and ${demo.activity.plays} plays`
        : '';
      process.stdout.write(
        `demo catalog loaded: ${demo.artists} artists, ${demo.albums} albums, ${demo.songs} songs${activity}\ndemo sign-ins:\n${signIns}`,
      );
    }
  }

  const behindGateway = config.services.kind === 'roles' && config.services.roles.size < ROLES.length;
  onShutdown(app, behindGateway ? DRAIN_NOTICE_MS : 0, async () => {
    await database.close();
    if (redis) linkOf(redis).close();
  });

  await tightened;
  await app.listen({ port: config.port, host: config.host });
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  app.log.info(
    {
      database: database.kind,
      cache: redis ? 'redis' : 'memory',
      startupMs: Math.round(performance.now() - started),
    },
    `Backbeat ready: http://${shownHost}:${config.port}/ (web player; API at /api/v1, interactive docs at /docs)`,
  );
}

/**
 * On SIGTERM/SIGINT: stop taking connections, finish what is in flight (answers close their
 * connections), release the rest, exit; a second signal or a stuck request exits at once.
 */
function onShutdown(app: FastifyInstance, noticeMs: number, release: () => Promise<void>): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + noticeMs);
    force.unref();
    try {
      app.draining = true;
      if (noticeMs) await new Promise((resolve) => setTimeout(resolve, noticeMs));
      await app.close();
      await release();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** `SERVICES=gateway`: no database; Redis only to share rate-limit counters between gateways. */
async function serveGateway(baseConfig: Config): Promise<void> {
  const config = resolveJwtSecret(baseConfig);
  const redis = config.redisUrl ? connectRedis(config.redisUrl) : undefined;
  // Loaded only here: the proxy (and its HTTP client) is no part of an API process.
  const { buildGateway } = await import('./gateway/gateway.js');
  const app = await buildGateway(config, { redis });
  onShutdown(app, 0, async () => {
    redis?.disconnect();
  });
  await app.listen({ port: config.port, host: config.host });
  app.log.info({ upstreams: config.gatewayUpstreams }, `Backbeat gateway ready on port ${config.port}`);
}

async function main(): Promise<void> {
  const [command = 'serve', ...args] = process.argv.slice(2);
  // A .env file in the working directory fills in what the environment leaves unset.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  if (command === 'serve' || command === 'migrate') keepDataDirPrivate(config.dataDir);
  try {
    if (command === 'serve' && config.services.kind === 'gateway') return await serveGateway(config);
    if (command === 'serve') return await serveCommand(config);
    if (command === 'migrate') return await migrateCommand(config);
    if (command === 'import') return await importCommand(config, args);
    if (command === 'openapi') return await openapiCommand(config, args.includes('--check'));
  } catch (error) {
    if (error instanceof DataDirLockedError) fail(error.message);
    throw error;
  }
  fail(`unknown command "${command}" (use serve, migrate, import or openapi)`);
}

await main();
