import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { loadDemoCatalog } from './modules/catalog/index.js';
import { importFolder } from './modules/media/index.js';
import { connectRedis, createCacheStore } from './platform/cache.js';
import { DataDirLockedError, fromPglite, migrateDatabase, openDatabase, openPglite } from './platform/db.js';
import { AppError } from './platform/errors.js';
import { resolveJwtSecret } from './platform/secrets.js';

const OPENAPI_FILE = new URL('../openapi.json', import.meta.url);
const SHUTDOWN_GRACE_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`backbeat: ${message}\n`);
  process.exit(1);
}

async function migrateCommand(config: Config): Promise<void> {
  const database = await openDatabase(config);
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
  // The app starts its job queue when ready, which needs the tables.
  await migrateDatabase(database, undefined);
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
  const database = await openDatabase(baseConfig);
  const config = resolveJwtSecret(baseConfig);
  let redis: Redis | undefined;
  try {
    await migrateDatabase(database, config.databaseUrl);
    redis = config.redisUrl ? connectRedis(config.redisUrl) : undefined;
  } catch (error) {
    await database.close();
    throw error;
  }
  const app = await buildApp(config, {
    database,
    cacheStore: createCacheStore(redis),
    redis,
    processMetrics: true,
  });

  if (config.adminEmail && config.adminPassword) {
    if (await app.services.identity.ensureAdmin(config.adminEmail, config.adminPassword)) {
      app.log.info({ email: config.adminEmail }, 'created the configured admin account');
    }
  }
  if (config.demoData) {
    const demo = await loadDemoCatalog({
      db: database.db,
      cache: app.services.cache,
      ensureAccount: app.services.identity.ensureAccount,
    });
    if (demo) {
      const signIns = demo.accounts.map((a) => `  ${a.role.padEnd(6)} ${a.email} / ${a.password}\n`).join('');
      process.stdout.write(
        `demo catalog loaded: ${demo.artists} artists, ${demo.albums} albums, ${demo.songs} songs\ndemo sign-ins:\n${signIns}`,
      );
    }
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      app.draining = true;
      await app.close();
      await database.close();
      redis?.disconnect();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  app.log.info(
    {
      database: database.kind,
      cache: redis ? 'redis' : 'memory',
      startupMs: Math.round(performance.now() - started),
    },
    `Backbeat ready: http://${shownHost}:${config.port}/api/v1 (interactive docs at /docs)`,
  );
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
  try {
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
