import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import etag from '@fastify/etag';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { Type } from 'typebox';
import type { Config } from './config.js';
import {
  ALBUM_RELEASE_JOB,
  albumReleaseJob,
  type CatalogService,
  catalogRoutes,
  createCatalogService,
} from './modules/catalog/index.js';
import { createDiscoveryService, type DiscoveryService, discoveryRoutes } from './modules/discovery/index.js';
import { createIdentityService, identityRoutes } from './modules/identity/index.js';
import {
  countPublicPlaylists,
  createFollowingService,
  createNotificationService,
  createPlaylistService,
  followingRoutes,
  isFollowingAlbum,
  notificationFeedTag,
  notificationRoutes,
  playlistRoutes,
  searchPublicPlaylists,
} from './modules/library/index.js';
import {
  type ChatLimits,
  createLiveChat,
  createLiveService,
  type LiveChat,
  type LiveService,
  liveRoutes,
} from './modules/live/index.js';
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
import {
  appPasswordRoutes,
  createAppPasswords,
  createSubsonicService,
  subsonicRoutes,
} from './modules/subsonic/index.js';
import { apiRootRoutes } from './platform/api-root.js';
import {
  type AuthUser,
  authenticateWritesBeforeBody,
  createTokenService,
  registerAuth,
  type SessionResolver,
} from './platform/auth.js';
import { Cache, type CacheStore } from './platform/cache.js';
import { CachedReads } from './platform/cached-reads.js';
import { type Clock, systemClock } from './platform/clock.js';
import {
  type Database,
  DatabaseBusyError,
  enterRequestTurn,
  newRequestTurn,
  type RequestTurn,
} from './platform/db.js';
import {
  AppError,
  answerClientError,
  answerFrameworkError,
  MethodNotAllowedError,
  registerErrorHandling,
  registerNotFound,
  routeMalformedUrl,
  ValidationError,
} from './platform/errors.js';
import { type EventBus, LocalEventBus, OutboxRelay } from './platform/events.js';
import { createGatewayTrust, liveTagOf } from './platform/gateway-trust.js';
import { healthRoutes } from './platform/health.js';
import { registerBodyIdleTimeout } from './platform/http.js';
import { JobQueue } from './platform/jobs.js';
import { jobRoutes } from './platform/jobs.routes.js';
import { serializeRequest } from './platform/logging.js';
import { registerMetrics } from './platform/metrics.js';
import { registerOpenApi } from './platform/openapi.js';
import { registerRateLimit } from './platform/rate-limit.js';
import { newRedis } from './platform/redis.js';
import { registerSecurityHeaders } from './platform/security-headers.js';
import { registerJsonParser, schemaCompilers } from './platform/validation.js';
import { webPlayerRoutes } from './platform/web-player.js';
import { type ModuleRole, type Role, roleNames } from './roles.js';

export interface AppDeps {
  database: Database;
  cacheStore: CacheStore;
  /** Set when REDIS_URL is: shared rate-limit counters across nodes (local ones while it is away). */
  redis?: Redis;
  /** Where committed domain events go; the in-process bus when absent. */
  eventBus?: EventBus;
  /** Process metrics (event loop, GC, memory); off where many apps share one process (tests). */
  processMetrics?: boolean;
  /** Business time as the services see it (see platform/clock.ts); tests move it. */
  clock?: Clock;
  /** The built web player to serve at `/`; none when absent (tests, API-only processes). */
  webPlayerDir?: string;
  /** Live chat limits other than the defaults (tests shorten the idle timeout). */
  liveChatLimits?: Partial<ChatLimits>;
}

export const API_PREFIX = '/api/v1';
/** The Subsonic API, where existing players expect it. */
export const SUBSONIC_PREFIX = '/rest';
/** What `/rest` reports as `serverVersion`. */
const SERVER_VERSION = '0.1.0';
const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * A socket with nothing read or written for this long is closed (slow or abandoned clients).
 * Notification streams write a heartbeat every 15 s, so they stay open.
 */
const CONNECTION_IDLE_TIMEOUT_MS = 120_000;
/**
 * Longest time to receive a whole request, headers and body. Generous, for large uploads at a
 * modest pace; slow clients are caught sooner by the body's idle timeout (BODY_TIMEOUT).
 */
const REQUEST_TIMEOUT_MS = 15 * 60_000;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const NoQuery = Type.Object({}, { additionalProperties: false });

/** Echo a caller's request id when it is safe to log, else make one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Fastify's `trustProxy` for TRUST_PROXY. Fastify no longer trusts hop counts (a client that
 * reaches the server directly could claim any address), so a count becomes "the nearest n hops":
 * set one only when nothing reaches the server except through those proxies.
 */
export function trustedProxies(
  setting: Config['trustProxy'],
): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting;
  return (_address, hop) => hop < setting;
}

/**
 * A service's `trustProxy` without TRUST_PROXY: the peer's forwarding headers reach Fastify only
 * when they carry the gateway's proof (the first `onRequest` hook drops them otherwise), so the
 * peer can be believed about the hop before it: behind the gateway `request.ip` is the client
 * the gateway names (rate-limit keys, logs), and directly it is the peer itself.
 */
const believeTheGateway = (_address: string, hop: number) => hop === 0;

/**
 * Builds the whole HTTP application. Everything with a side effect (database, cache, Redis)
 * comes in `deps`, so tests and every deployment shape build the same app.
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  if (!config.jwtSecret) throw new Error('buildApp needs config.jwtSecret (see resolveJwtSecret)');
  if (config.services.kind !== 'roles') throw new Error('SERVICES=gateway runs buildGateway, not buildApp');
  const roles = config.services.roles;
  const gatewayTrust = createGatewayTrust(config.jwtSecret);
  // Anonymous repeats of replayable cached reads are answered before Fastify (platform/cached-reads.ts).
  const cachedReads = new CachedReads();
  const compilers = schemaCompilers();
  const app = Fastify({
    serverFactory: cachedReads.serverFactory,
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      serializers: { req: serializeRequest },
    },
    genReqId: requestId,
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT_BYTES,
    connectionTimeout: CONNECTION_IDLE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    routerOptions: { maxParamLength: 200 },
    rewriteUrl: routeMalformedUrl,
    // Rate limits key on request.ip: the client's address only when the proxy in front is trusted.
    trustProxy: config.trustProxy === false ? believeTheGateway : trustedProxies(config.trustProxy),
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // Validators and serializers compile on each route's first use (platform/validation.ts).
    schemaController: { compilersFactory: compilers.factory },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('compileSchemas', compilers.compilePending);
  // Fastify parses text/plain by default; JSON routes take only JSON (any other body: 415).
  app.removeContentTypeParser('text/plain');
  registerJsonParser(app);
  registerBodyIdleTimeout(app, config.bodyTimeoutMs);
  const routesByUrl = collectRoutes(app);
  // Without TRUST_PROXY only the gateway's forwarding headers are believed (see
  // believeTheGateway); with it, Fastify's trustProxy decides which proxies' headers count.
  const dropForwarding = !config.trustProxy;
  // Every request passes the hooks below: they are plain callbacks, not async functions (a
  // promise per hook and request is measurable on a cached read).
  app.addHook('onRequest', (request, _reply, done) => {
    if (dropForwarding) gatewayTrust.dropUntrustedForwarding(request.headers);
    // Node looks up a connection's peer address lazily, and a connection that dies while the
    // request's hooks run (a malformed chunked body) has none left: read it while it is alive,
    // so the rate limiter always has a client address.
    void request.raw.socket?.remoteAddress;
    done();
  });
  app.decorate('draining', false);
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // While shutting down, answers in flight close their keep-alive connection so close() can finish.
    if (app.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  registerErrorHandling(app);

  registerSecurityHeaders(app);
  // The embedded database's queue (platform/db.ts, schedulePglite) orders statements by the
  // arrival of the API request they belong to and refuses a request that waited
  // PGLITE_QUEUE_TIMEOUT for its first one; a new API request that would queue behind
  // PGLITE_QUEUE_MAX statements is answered 503 + Retry-After now. Admitted ones always finish.
  if (deps.database.kind === 'pglite') {
    const { busy, queued } = deps.database;
    const turns = new WeakMap<object, RequestTurn>();
    app.addHook('onRequest', (request, _reply, done) => {
      if (!request.url.startsWith('/api/')) return done();
      if (busy?.()) return done(new DatabaseBusyError(queued?.() ?? 0));
      const turn = newRequestTurn();
      turns.set(request, turn);
      enterRequestTurn(turn, done);
    });
    // A body is read outside the request's asynchronous context: enter it again for the handler.
    app.addHook('preHandler', (request, _reply, done) => {
      const turn = turns.get(request);
      if (turn) enterRequestTurn(turn, done);
      else done();
    });
    const end = (request: object) => {
      const turn = turns.get(request);
      if (turn) turn.ended = true;
    };
    app.addHook('onResponse', (request, _reply, done) => {
      end(request);
      done();
    });
    app.addHook('onRequestAbort', (request, done) => {
      end(request);
      done();
    });
  }
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
  // The gateway enforces the limits once for everyone behind it.
  await registerRateLimit(app, config, deps.redis, (request) => gatewayTrust.fromGateway(request.headers));
  registerNotFound(app, app.rateLimit());
  await app.register(etag, { weak: true });
  authenticateWritesBeforeBody(app);
  const metrics = registerMetrics(app, {
    processMetrics: deps.processMetrics ?? false,
    enabled: config.metricsEnabled,
    token: config.metricsToken,
  });
  cachedReads.enable(app, {
    log: app.log,
    requestId,
    rateLimit: app.createRateLimit(),
    record: metrics.record,
    busy: deps.database.busy,
    draining: () => app.draining,
  });
  app.decorate('cachedReads', cachedReads);
  await registerOpenApi(app);

  const { db } = deps.database;
  const cache = new Cache(deps.cacheStore, config.cacheTtlSec);
  const clock = deps.clock ?? systemClock;
  const tokens = createTokenService(config.jwtSecret, config.accessTokenTtlSec, clock);
  const bus = deps.eventBus ?? (await createEventBus(config, roles, app.log));
  const relay = new OutboxRelay(db, bus, app.log);
  // Across processes, what one invalidates leaves the others' in-process entries too.
  if (bus.broadcastInvalidation && bus.onInvalidation) {
    cache.shareInvalidations((tags) => bus.broadcastInvalidation!(tags));
    bus.onInvalidation((tags) => {
      cache
        .invalidateHere(tags)
        .catch((error: unknown) => app.log.error({ err: error }, 'cache invalidation failed'));
    });
  }
  // On the embedded database no other process can hold a job, so stale ones are taken back at once.
  const jobs = new JobQueue(db, app.log, { clock, exclusive: deps.database.kind === 'pglite' });
  // Modules depend on the catalog, never the other way round: what the catalog shows of
  // other modules (followedByMe, playlists in search) comes in as functions.
  const catalog = createCatalogService({
    db,
    cache,
    searchPlaylists: (_caller, query) => searchPublicPlaylists(db, query),
    isFollowingAlbum: (userId, albumId) => isFollowingAlbum(db, userId, albumId),
    clock,
    log: app.log,
  });
  jobs.register(
    ALBUM_RELEASE_JOB,
    albumReleaseJob({
      db,
      clock,
      log: app.log,
      invalidateAlbum: catalog.invalidateAlbum,
      invalidateArtist: catalog.invalidateArtist,
      invalidateSearch: catalog.invalidateSearch,
    }),
  );
  const following = createFollowingService({
    db,
    catalog,
    invalidateFeedOf: (userId) => cache.invalidate(notificationFeedTag(userId)),
  });
  const playlists = createPlaylistService({ db, cache });
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
    userDeletionHooks: [following.releaseFollowsOf, playlists.forgetPlaylistsOf],
    publicPlaylistCount: (userId) => countPublicPlaylists(db, userId),
    clock,
  });
  const notifications = createNotificationService({
    db,
    cache,
    bus,
    log: app.log,
    clock,
    sessionLive: (user) => sessionLive(identity.resolveSession, user),
  });
  const storage = new MediaStorage(config.mediaDir);
  const signer = createUrlSigner(config.jwtSecret, config.streamUrlTtlSec, clock);
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
  bus.subscribe('catalog.song_deleted', (event) => media.sweepSong(event.payload.songId), { group: 'media' });
  bus.subscribe('catalog.album_deleted', () => media.sweep(), { group: 'media' });
  const mediaOptions = {
    media,
    storage,
    signer,
    uploadMaxBytes: config.uploadMaxBytes,
    imageMaxBytes: config.imageMaxBytes,
  };
  const appPasswords = createAppPasswords(db, config.jwtSecret);
  const subsonic = createSubsonicService({ db, catalog, following, playlists, discovery, media, clock });
  registerAuth(app, tokens, identity.resolveSession);
  const live = createLiveService({
    db,
    jobs,
    clock,
    playlists,
    log: app.log,
    invalidateArtist: catalog.invalidateArtist,
  });
  // socket.io listens where the HTTP server does; with Redis its rooms span processes.
  const adapterClients = config.redisUrl && roles.has('live') ? redisPair(config.redisUrl) : undefined;
  const chat = roles.has('live')
    ? createLiveChat({
        server: app.server,
        live,
        tokens,
        resolveSession: identity.resolveSession,
        bus,
        log: app.log,
        redis: deps.redis,
        adapterClients,
        sessionTag: (request) =>
          gatewayTrust.fromGateway(request.headers) ? liveTagOf(request.headers) : undefined,
        limits: deps.liveChatLimits,
        requestId,
      })
    : undefined;

  /**
   * What each role mounts, in the order the routes are registered (which orders openapi.json).
   * A module joins as a role with its lines here and in `BACKGROUND`.
   */
  const ROUTES: Array<[ModuleRole, (api: FastifyInstance) => Promise<unknown>]> = [
    [
      'identity',
      async (api) =>
        api.register(identityRoutes, {
          identity,
          authRateLimitMax: config.rateLimitAuthMax,
          rateLimitWindowMs: config.rateLimitWindowMs,
        }),
    ],
    [
      'catalog',
      async (api) =>
        api.register(catalogRoutes, {
          catalog,
          songFromFile: songFromFile(media, storage, config.uploadMaxBytes),
        }),
    ],
    ['media', async (api) => api.register(mediaApiRoutes, mediaOptions)],
    ['media', async (api) => api.register(libraryRoutes, { library })],
    ['identity', async (api) => api.register(jobRoutes, { db })],
    ['identity', async (api) => api.register(appPasswordRoutes, { appPasswords })],
    ['library', async (api) => api.register(followingRoutes, { following })],
    ['library', async (api) => api.register(notificationRoutes, { notifications })],
    ['discovery', async (api) => api.register(discoveryRoutes, { discovery })],
    ['library', async (api) => api.register(playlistRoutes, { playlists })],
    ['live', async (api) => api.register(liveRoutes, { live, chat: chat! })],
  ];
  /** Schedules and jobs, run by processes with the `worker` role. */
  const BACKGROUND: Array<() => void> = [() => discovery.startSchedules(), () => jobs.start()];

  app.addHook('onReady', async () => {
    relay.start();
    await bus.start();
    if (roles.has('worker')) for (const start of BACKGROUND) start();
  });
  // Open sockets would keep close() waiting for their clients; end them first.
  app.addHook('preClose', async () => chat?.close());
  app.addHook('onClose', async () => {
    adapterClients?.pub.disconnect();
    adapterClients?.sub.disconnect();
    await jobs.stop();
    await discovery.close();
    await relay.stop();
    await bus.close();
    await catalog.searchIndex.close();
  });
  app.decorate('services', {
    identity,
    catalog,
    cache,
    events: { bus, relay },
    notifications,
    discovery,
    jobs,
    media,
    library,
    live,
    chat,
  });

  await app.register(healthRoutes, {
    roles: roleNames(config.services),
    draining: () => app.draining,
    checks: { database: () => deps.database.ping() },
    degradable: {
      cache: () => deps.cacheStore.ping(),
      ...(bus.ping ? { events: () => bus.ping!() } : {}),
    },
  });
  await app.register(
    async (api) => {
      // The API root, in every process that serves a part of the API.
      if (ROUTES.some(([role]) => roles.has(role))) await api.register(apiRootRoutes);
      for (const [role, register] of ROUTES) if (roles.has(role)) await register(api);
    },
    { prefix: API_PREFIX },
  );
  if (roles.has('subsonic')) {
    await app.register(subsonicRoutes, {
      prefix: SUBSONIC_PREFIX,
      db,
      subsonic,
      appPasswords,
      serverVersion: SERVER_VERSION,
      authRateLimitMax: config.rateLimitAuthMax,
      rateLimitWindowMs: config.rateLimitWindowMs,
    });
  }
  if (roles.has('media')) await app.register(mediaFileRoutes, mediaOptions);
  if (deps.webPlayerDir) await app.register(webPlayerRoutes, { dir: deps.webPlayerDir });

  registerMethodNotAllowed(app, routesByUrl);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set on shutdown: in-flight answers close their connections. */
    draining: boolean;
    /** Anonymous cached reads answered before routing (platform/cached-reads.ts). */
    cachedReads: CachedReads;
    /** Compiles the route schemas no request has used yet (they compile on first use); returns how many. */
    compileSchemas(): number;
    services: {
      identity: ReturnType<typeof createIdentityService>;
      catalog: CatalogService;
      cache: Cache;
      events: { bus: EventBus; relay: OutboxRelay };
      notifications: ReturnType<typeof createNotificationService>;
      discovery: DiscoveryService;
      jobs: JobQueue;
      media: MediaService;
      library: LibraryService;
      live: LiveService;
      /** The socket.io chat, in processes with the `live` role. */
      chat: LiveChat | undefined;
    };
  }
}

/** Two plain connections for the socket.io Redis adapter (publish and subscribe). */
function redisPair(url: string): { pub: Redis; sub: Redis } {
  const connect = () => newRedis(url).on('error', () => {});
  return { pub: connect(), sub: connect() };
}

/** Whether `user`'s session still resolves: false once it ended (401) or the user is blocked (403). */
async function sessionLive(resolve: SessionResolver, user: AuthUser): Promise<boolean> {
  try {
    await resolve({ userId: user.id, sessionId: user.sessionId, role: user.role });
    return true;
  } catch (error) {
    if (error instanceof AppError && (error.status === 401 || error.status === 403)) return false;
    throw error;
  }
}

/**
 * NATS when configured (events reach every process; group handlers run where `worker` does),
 * else the in-process bus. The NATS client is loaded only then.
 */
async function createEventBus(
  config: Config,
  roles: ReadonlySet<Role>,
  log: FastifyInstance['log'],
): Promise<EventBus> {
  if (!config.natsUrl) return new LocalEventBus();
  const { NatsEventBus } = await import('./platform/nats-bus.js');
  return new NatsEventBus({
    url: config.natsUrl,
    stream: config.natsStream,
    consumeGroups: roles.has('worker'),
    log,
  });
}

/** Records every route's methods by URL pattern, to answer 405 for the others. */
function collectRoutes(app: FastifyInstance): Map<string, Set<string>> {
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    // Static and UI routes (docs) manage their own methods.
    if (route.url.includes('*') || route.url.startsWith('/docs')) return;
    // A route that takes no query parameters still rejects unknown ones (API.md: always 400).
    if (!route.schema?.querystring) route.schema = { ...route.schema, querystring: NoQuery };
    // Nor does one that takes no body accept JSON fields (API.md: unknown body fields are a 400).
    if (!route.schema?.body && [route.method].flat().some((m) => m !== 'GET' && m !== 'HEAD')) {
      route.preValidation = [...[route.preValidation ?? []].flat(), refuseBodyFields];
    }
    const methods = byUrl.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    byUrl.set(route.url, methods);
  });
  return byUrl;
}

/**
 * For routes that declare no body: a JSON body with anything in it (a field, an array, a value)
 * is 400, as an unknown field is where a body is declared; no body, `null` and `{}` pass. Other
 * content types (audio and multipart uploads, Subsonic's forms) are the routes' own business.
 */
async function refuseBodyFields(request: FastifyRequest): Promise<void> {
  const body = request.body as unknown;
  if (body === undefined || body === null) return;
  if (!/json/i.test(request.headers['content-type'] ?? '')) return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    // A stream or buffer is a raw body its route reads itself; only parsed JSON is judged here.
    const proto = Object.getPrototypeOf(body);
    if (proto !== Object.prototype && proto !== null) return;
    if (Object.keys(body).length === 0) return;
  }
  throw new ValidationError('This request takes no body', [{ path: '/', message: 'takes no body fields' }]);
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
      // Refused before the body is parsed and the query checked: the method is wrong whatever they hold.
      onRequest: async (request) => {
        throw new MethodNotAllowedError(request.method, allow);
      },
      handler: async (request) => {
        throw new MethodNotAllowedError(request.method, allow);
      },
    });
  }
}
