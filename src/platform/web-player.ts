import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { projectPath } from './paths.js';

/** Where `npm install` (the `prepare` script) builds the web player. */
export const WEB_PLAYER_DIR = projectPath('web', 'dist');
const WEB_ROOT = projectPath('web');
const VITE_CONFIG = join(WEB_ROOT, 'vite.config.ts');

/**
 * Vite puts every script and stylesheet under this one prefix with a content hash in the name,
 * so one wildcard route serves them and nothing else (the API, /health, /media...) is shadowed.
 */
const ASSET_PREFIX = '/web/';
const YEAR_SECONDS = 31_536_000;
/** Any query on `/` (a shared link with tracking parameters) still opens the player. */
const AnyQuery = Type.Object({}, { additionalProperties: true });

/**
 * The page's own policy: helmet's default would add `upgrade-insecure-requests`, which breaks
 * a self-hosted server reached over plain http on a LAN address, and would block hls.js
 * (MediaSource `blob:` URLs) and artist pictures hosted elsewhere.
 */
const PAGE_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'", 'data:'],
    formAction: ["'self'"],
    frameAncestors: ["'self'"],
    imgSrc: ["'self'", 'data:', 'https:'],
    mediaSrc: ["'self'", 'blob:'],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
  },
};

/** Newest modification time (ms) of the player's sources; 0 when they are absent. */
function newestSource(path: string): number {
  try {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs;
    return Math.max(0, ...readdirSync(path).map((name) => newestSource(join(path, name))));
  } catch {
    return 0;
  }
}

/** True when `dir` holds a build at least as new as the sources (a `git pull` makes it stale). */
export function webPlayerBuilt(dir: string): boolean {
  let built: number;
  try {
    built = statSync(join(dir, 'index.html')).mtimeMs;
  } catch {
    return false;
  }
  const sources = ['src', 'index.html', 'vite.config.ts'].map((name) => newestSource(join(WEB_ROOT, name)));
  return built >= Math.max(...sources);
}

/**
 * Builds the player on start when the install did not (a checkout whose `prepare` never ran)
 * or its sources changed since.
 * Vite is a development dependency: an install without it gets a warning and serves the API only.
 */
export async function ensureWebPlayerBuilt(dir: string, log: FastifyBaseLogger): Promise<void> {
  if (webPlayerBuilt(dir)) return;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    log.warn('web player not built and Vite is not installed: serving the API only (run `npm install`)');
    return;
  }
  log.info('building the web player');
  try {
    await vite.build({
      configFile: VITE_CONFIG,
      logLevel: 'warn',
      build: { outDir: dir, emptyOutDir: true },
    });
  } catch (error) {
    log.warn({ err: error }, 'web player build failed: serving the API only');
  }
}

/**
 * Serves the built player: `/` is its page and `/web/*` its hashed assets. It uses hash
 * routing (`/#/albums/...`), so there is no catch-all fallback that could answer for an unknown
 * API route; those still get the problem+json 404.
 */
export async function webPlayerRoutes(app: FastifyInstance, options: { dir: string }): Promise<void> {
  await app.register(fastifyStatic, { root: options.dir, serve: false });
  app.get(
    '/',
    {
      schema: { hide: true, querystring: AnyQuery },
      helmet: { contentSecurityPolicy: PAGE_CSP },
    },
    // The page names the current hashed assets, so it is revalidated on every visit.
    (_request, reply) =>
      reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false }),
  );
  app.get(`${ASSET_PREFIX}*`, { schema: { hide: true } }, (request, reply) => {
    const { '*': file } = request.params as { '*': string };
    return reply.sendFile(`${ASSET_PREFIX.slice(1)}${file}`, {
      maxAge: YEAR_SECONDS * 1000,
      immutable: true,
    });
  });
}
