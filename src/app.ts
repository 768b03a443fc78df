import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import etag from '@fastify/etag';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Type } from 'typebox';
import type { Config } from './config.js';
import { catalogRoutes, createCatalogService } from './modules/catalog/index.js';
import { createDiscoveryService, type DiscoveryService, discoveryRoutes } from './modules/discovery/index.js';
import { createIdentityService, identityRoutes } from './modules/identity/index.js';
import {
  createFollowingService,
  createNotificationService,
  createPlaylistService,
  followingRoutes,
  isFollowingAlbum,
  notificationRoutes,
  playlistRoutes,
  searchPublicPlaylists,
} from './modules/library/index.js';
import {
  createLibraryService,
  createMediaService,
  createUrlSigner,
  type LibraryService,
  libraryRoutes,
  type MediaService,
  MediaStorage,
  mediaApiRoutes,
  mediaFileRoutes,
  resolveFfmpeg,
  songFromFile,
} from './modules/media/index.js';
import { createTokenService, registerAuth } from './platform/auth.js';
import { Cache, type CacheStore } from './platform/cache.js';
import type { Database } from './platform/db.js';
import { AppError, MethodNotAllowedError, registerErrorHandling } from './platform/errors.js';
import { type EventBus, LocalEventBus, OutboxRelay } from './platform/events.js';
import { healthRoutes } from './platform/health.js';
import { JobQueue } from './platform/jobs.js';
import { jobRoutes } from './platform/jobs.routes.js';
import { registerMetrics } from './platform/metrics.js';
import { registerOpenApi } from './platform/openapi.js';
import { registerValidation } from './platform/validation.js';

export interface AppDeps {
  database: Database;
  cacheStore: CacheStore;
  /** Set when REDIS_URL is: shared rate-limit counters across nodes. */
  redis?: Redis;
  /** Where committed domain events go; the in-process bus when absent. */
  eventBus?: EventBus;
  /** Process metrics (event loop, GC, memory); off where many apps share one process (tests). */
  processMetrics?: boolean;
  /** Time as the services see it; tests move it. */
  clock?: () => Date;
}

export const API_PREFIX = '/api/v1';
const BODY_LIMIT_BYTES = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const NoQuery = Type.Object({}, { additionalProperties: false });

/** Echo a caller's request id when it is safe to log, else make one. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Builds the whole HTTP application. Everything with a side effect (database, cache, Redis)
 * comes in `deps`, so tests and every deployment shape build the same app.
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  if (!config.jwtSecret) throw new Error('buildApp needs config.jwtSecret (see resolveJwtSecret)');
  const app = Fastify({
    logger: { level: config.logLevel, redact: ['req.headers.authorization'] },
    genReqId: requestId,
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerValidation(app);
  const routesByUrl = collectRoutes(app);

  app.decorate('draining', false);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // While shutting down, answers in flight close their keep-alive connection so close() can finish.
    if (app.draining) reply.header('connection', 'close');
  });
  registerErrorHandling(app);

  await app.register(helmet, { global: true });
  await app.register(cors, {
    origin: config.corsOrigins === '*' ? '*' : config.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: [
      'x-request-id',
      'etag',
      'location',
      'retry-after',
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
    ],
    maxAge: 600,
  });
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    enableDraftSpec: true,
    ...(deps.redis ? { redis: deps.redis, nameSpace: 'rl:' } : {}),
    errorResponseBuilder: (_request, context) =>
      new AppError(
        429,
        'RATE_LIMITED',
        'Too many requests',
        `Rate limit exceeded, retry in ${context.after}`,
      ),
  });
  await app.register(etag, { weak: true });
  registerMetrics(app, { processMetrics: deps.processMetrics ?? false });
  await registerOpenApi(app);

  const { db } = deps.database;
  const cache = new Cache(deps.cacheStore, config.cacheTtlSec);
  const tokens = createTokenService(config.jwtSecret, config.accessTokenTtlSec);
  const bus = deps.eventBus ?? new LocalEventBus();
  const relay = new OutboxRelay(db, bus, app.log);
  const clock = deps.clock ?? (() => new Date());
  // On the embedded database no other process can hold a job, so stale ones are taken back at once.
  const jobs = new JobQueue(db, app.log, { clock, exclusive: deps.database.kind === 'pglite' });
  // Modules depend on the catalog, never the other way round: what the catalog shows of
  // other modules (followedByMe, playlists in search) comes in as functions.
  const catalog = createCatalogService({
    db,
    cache,
    searchPlaylists: (_caller, query) => searchPublicPlaylists(db, query),
    isFollowingAlbum: (userId, albumId) => isFollowingAlbum(db, userId, albumId),
  });
  const following = createFollowingService({ db, catalog });
  const notifications = createNotificationService({ db, bus, log: app.log });
  const playlists = createPlaylistService({ db });
  const discovery = createDiscoveryService({
    db,
    cache,
    clock,
    catalog,
    events: bus,
    log: app.log,
  });
  const identity = createIdentityService({
    db,
    tokens,
    refreshTtlSec: config.refreshTokenTtlSec,
    userDeletionHooks: [following.releaseFollowsOf],
  });
  const storage = new MediaStorage(config.mediaDir);
  const signer = createUrlSigner(config.jwtSecret, config.streamUrlTtlSec);
  const media = createMediaService({
    db,
    catalog,
    identity,
    storage,
    signer,
    jobs,
    ffmpeg: resolveFfmpeg(config.ffmpegPath),
    log: app.log,
    transcodeConcurrency: config.transcodeConcurrency,
  });
  const library = createLibraryService({ db, catalog, media, jobs, log: app.log, musicDir: config.musicDir });
  // Files of deleted songs and albums go once nothing refers to them.
  bus.subscribe('catalog.song_deleted', () => media.sweep());
  bus.subscribe('catalog.album_deleted', () => media.sweep());
  const mediaOptions = {
    media,
    storage,
    signer,
    uploadMaxBytes: config.uploadMaxBytes,
    imageMaxBytes: config.imageMaxBytes,
  };
  registerAuth(app, tokens, identity.resolveSession);
  app.addHook('onReady', async () => {
    relay.start();
    await jobs.start();
  });
  app.addHook('onClose', async () => {
    await jobs.stop();
    await discovery.close();
    await relay.stop();
    await bus.close();
  });
  app.decorate('services', {
    identity,
    cache,
    events: { bus, relay },
    notifications,
    discovery,
    jobs,
    media,
    library,
  });

  await app.register(healthRoutes, {
    checks: { database: () => deps.database.ping(), cache: () => deps.cacheStore.ping() },
  });
  await app.register(
    async (api) => {
      await api.register(identityRoutes, {
        identity,
        authRateLimitMax: config.rateLimitAuthMax,
        rateLimitWindowMs: config.rateLimitWindowMs,
      });
      await api.register(catalogRoutes, {
        catalog,
        songFromFile: songFromFile(media, storage, config.uploadMaxBytes),
        uploadMaxBytes: config.uploadMaxBytes,
      });
      await api.register(mediaApiRoutes, mediaOptions);
      await api.register(jobRoutes, { db });
      await api.register(libraryRoutes, { library });
      await api.register(followingRoutes, { following });
      await api.register(notificationRoutes, { notifications });
      await api.register(discoveryRoutes, { discovery });
      await api.register(playlistRoutes, { playlists });
    },
    { prefix: API_PREFIX },
  );
  await app.register(mediaFileRoutes, mediaOptions);

  registerMethodNotAllowed(app, routesByUrl);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set on shutdown: in-flight answers close their connections. */
    draining: boolean;
    services: {
      identity: ReturnType<typeof createIdentityService>;
      cache: Cache;
      events: { bus: EventBus; relay: OutboxRelay };
      notifications: ReturnType<typeof createNotificationService>;
      discovery: DiscoveryService;
      jobs: JobQueue;
      media: MediaService;
      library: LibraryService;
    };
  }
}

/** Records every route's methods by URL pattern, to answer 405 for the others. */
function collectRoutes(app: FastifyInstance): Map<string, Set<string>> {
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    // Static and UI routes (docs) manage their own methods.
    if (route.url.includes('*') || route.url.startsWith('/docs')) return;
    // A route that takes no query parameters still rejects unknown ones (API.md: always 400).
    if (!route.schema?.querystring) route.schema = { ...route.schema, querystring: NoQuery };
    const methods = byUrl.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    byUrl.set(route.url, methods);
  });
  return byUrl;
}

/** A known path with a wrong method is 405 with `Allow`, not 404 (RFC 9110). */
function registerMethodNotAllowed(app: FastifyInstance, routesByUrl: Map<string, Set<string>>): void {
  for (const [url, methods] of [...routesByUrl]) {
    const missing = METHODS.filter((m) => !methods.has(m));
    if (!missing.length) continue;
    const allow = [...methods].filter((m) => m !== 'OPTIONS').sort();
    app.route({
      method: missing,
      url,
      schema: { hide: true },
      config: { rateLimit: false },
      handler: async (request) => {
        throw new MethodNotAllowedError(request.method, allow);
      },
    });
  }
}
