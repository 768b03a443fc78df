import httpProxy from '@fastify/http-proxy';
import replyFrom from '@fastify/reply-from';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { Type } from 'typebox';
import { requestId, trustedProxies } from '../app.js';
import type { Config } from '../config.js';
import { AppError, registerErrorHandling, registerNotFound } from '../platform/errors.js';
import {
  GATEWAY_HEADER,
  gatewayProof,
  LIVE_TAG_HEADER,
  liveTag,
  stripForwarding,
} from '../platform/gateway-trust.js';
import { healthRoutes } from '../platform/health.js';
import { registerMetrics } from '../platform/metrics.js';
import { registerRateLimit } from '../platform/rate-limit.js';
import { MODULE_ROLES } from '../roles.js';
import { createRoleRouter, GATEWAY_ROUTES } from './routes.js';
import { type Upstream, UpstreamPool } from './upstreams.js';

/** JSON and form bodies are held (up to the services' own limit) so a retry can resend them. */
const BUFFERED_BODY_LIMIT = 1024 * 1024;
/** Media uploads pass through as a stream: never held in the gateway's memory, never retried. */
const STREAMED_TYPES = /^(audio|video|image)\/|^multipart\/|^application\/octet-stream/;
/** Safe to send twice (RFC 9110 9.2.2): a failure on one process is retried on another. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Errors where the request never reached a process, so any method may go elsewhere. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH']);
const UPSTREAM_TIMEOUT_MS = 60_000;

const ServiceHealth = Type.Object({
  url: Type.String(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('down')]),
  latencyMs: Type.Union([Type.Integer(), Type.Null()]),
});
const ServicesResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  services: Type.Record(Type.String(), Type.Array(ServiceHealth)),
});

export interface GatewayDeps {
  /** Shared rate-limit counters when several gateways run. */
  redis?: Redis;
}

/**
 * `SERVICES=gateway`: one entry point in front of the role processes. Routes by path to a
 * role, round robin over its ready processes, retries an idempotent request once on another
 * process, passes WebSockets through to `live`, sets the forwarding headers itself (a client's
 * are dropped) and enforces the rate limits once, for everyone behind it.
 */
export async function buildGateway(config: Config, deps: GatewayDeps = {}): Promise<FastifyInstance> {
  if (!config.jwtSecret) throw new Error('buildGateway needs config.jwtSecret (see resolveJwtSecret)');
  const app = Fastify({
    logger: { level: config.logLevel, redact: ['req.headers.authorization'] },
    genReqId: requestId,
    requestIdHeader: false,
    bodyLimit: BUFFERED_BODY_LIMIT,
    // Behind a load balancer (TRUST_PROXY), the client is the one it names: that address is
    // what the gateway rate-limits and passes on in X-Forwarded-For.
    trustProxy: trustedProxies(config.trustProxy),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const pool = new UpstreamPool(config.gatewayUpstreams, app.log);
  const roleFor = createRoleRouter(GATEWAY_ROUTES);
  const proof = gatewayProof(config.jwtSecret);
  // A module process answers the paths no rule names (404, 405, /openapi.json, /docs) as it would alone.
  const fallbackRole = MODULE_ROLES.find((role) => pool.has(role));

  app.decorate('draining', false);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (app.draining) reply.header('connection', 'close');
  });
  registerErrorHandling(app);
  await registerRateLimit(app, config, deps.redis);
  registerNotFound(app, app.rateLimit());
  registerMetrics(app, { processMetrics: false, enabled: config.metricsEnabled, token: config.metricsToken });
  app.addHook('onReady', async () => pool.start());
  app.addHook('onClose', async () => pool.stop());

  await app.register(healthRoutes, { roles: ['gateway'], checks: {} });
  app.get(
    '/health/services',
    {
      config: { rateLimit: false },
      schema: {
        tags: ['operations'],
        summary: 'The processes behind the gateway, by role, and whether each is ready',
        response: { 200: ServicesResponse, 503: ServicesResponse },
      },
    },
    async (_request, reply) => {
      const services = Object.fromEntries(
        pool
          .roles()
          .map((role) => [
            role,
            pool.list(role).map(({ url, status, latencyMs }) => ({ url, status, latencyMs })),
          ]),
      );
      const healthy = pool.roles().every((role) => pool.list(role).some((u) => u.status === 'ok'));
      return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', services });
    },
  );

  /** Headers the process sees: the client's minus any forwarding claims, plus the gateway's. */
  function upstreamHeaders(
    request: Pick<FastifyRequest, 'ip' | 'protocol' | 'host' | 'id'>,
    headers: Record<string, unknown>,
  ) {
    stripForwarding(headers);
    return {
      ...headers,
      'x-forwarded-for': request.ip,
      'x-forwarded-proto': request.protocol,
      'x-forwarded-host': request.host,
      'x-request-id': request.id,
      [GATEWAY_HEADER]: proof,
    };
  }

  /** Sends the request to `upstream`; on a failure, once more to another process when that is safe. */
  function forward(
    request: FastifyRequest,
    reply: FastifyReply,
    role: string,
    upstream: Upstream,
    retried: boolean,
  ) {
    // A held body goes out as the bytes that came in (reply-from would re-encode a JSON one).
    const held = Buffer.isBuffer(request.body)
      ? {
          body: request.body,
          contentType: String(request.headers['content-type'] ?? 'application/octet-stream'),
        }
      : {};
    reply.from(`${upstream.url}${request.url}`, {
      ...held,
      timeout: UPSTREAM_TIMEOUT_MS,
      rewriteRequestHeaders: (_req, headers) => upstreamHeaders(request, headers as Record<string, unknown>),
      onError: (_reply, { error }) => {
        const code = errorCode(error);
        const neverArrived = code !== undefined && NOT_CONNECTED.has(code);
        if (neverArrived || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') pool.markDown(upstream);
        const resendable = !STREAMED_TYPES.test(String(request.headers['content-type'] ?? ''));
        const safe = neverArrived || (IDEMPOTENT.has(request.method) && resendable);
        const other = !retried && safe ? pool.pick(role, upstream) : undefined;
        request.log.warn(
          { err: error, upstream: upstream.url, retryOn: other?.url },
          'upstream request failed',
        );
        if (other) return forward(request, reply, role, other, true);
        reply.send(
          new AppError(502, 'BAD_GATEWAY', 'Bad gateway', `The ${role} service did not answer; try again`),
        );
      },
    });
  }

  /** The one handler behind every routed path. */
  async function route(request: FastifyRequest, reply: FastifyReply) {
    const role = roleFor(request.url) ?? fallbackRole;
    if (!role || !pool.has(role)) {
      throw new AppError(
        404,
        'ROUTE_NOT_FOUND',
        'Not found',
        `No route for ${request.method} ${request.url.split('?')[0]}`,
      );
    }
    const upstream = pool.pick(role);
    if (!upstream) {
      throw new AppError(
        503,
        'SERVICE_UNAVAILABLE',
        'Service unavailable',
        `No ${role} process is ready; try again`,
        undefined,
        {
          'retry-after': '2',
        },
      );
    }
    forward(request, reply, role, upstream, false);
    return reply;
  }

  await app.register(async (proxied) => {
    proxied.removeAllContentTypeParsers();
    proxied.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BUFFERED_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    proxied.addContentTypeParser(STREAMED_TYPES, (_req, payload, done) => done(null, payload));
    await proxied.register(replyFrom, { undici: { connections: 128, pipelining: 1 } });
    const everyMethod = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
    // The stricter credential limit, counted here once rather than by identity.
    const authLimit = { rateLimit: { max: config.rateLimitAuthMax, timeWindow: config.rateLimitWindowMs } };
    proxied.route({ method: [...everyMethod], url: '/api/v1/auth/*', config: authLimit, handler: route });
    // `/media/*`: the signed URLs the API redirects streams and pictures to.
    const urls = [
      '/api/v1',
      '/api/v1/*',
      '/rest',
      '/rest/*',
      '/media/*',
      '/openapi.json',
      '/docs',
      '/docs/*',
    ];
    for (const url of urls) {
      proxied.route({ method: [...everyMethod], url, handler: route });
    }
  });

  if (pool.has('live')) {
    // socket.io's long-polling sends each request of a session separately, and only the process
    // that opened the session knows it: the gateway gives every live process a tag, the process
    // puts its tag at the start of the session ids it makes (`<tag>.<random>`), and a request
    // carrying `sid` goes back to the process its tag names. Nothing is stored here, so several
    // gateways with the same upstream list agree. A request without a known tag (a handshake,
    // a WebSocket-only connection) goes round robin.
    const tags = new Map(pool.list('live').map((upstream) => [liveTag(upstream.url), upstream]));
    const chosen = new WeakMap<object, Upstream>();
    const pickLive = (request: FastifyRequest): Upstream | undefined => {
      const sid = new URL(request.url, 'http://gateway').searchParams.get('sid');
      const tagged = sid ? tags.get(sid.split('.', 1)[0]!) : undefined;
      const upstream = tagged?.status === 'ok' ? tagged : (tagged ?? pool.pick('live'));
      if (upstream) chosen.set(request, upstream);
      return upstream;
    };
    const liveHeaders = (request: FastifyRequest, headers: Record<string, unknown>) => {
      const upstream = chosen.get(request);
      return {
        ...upstreamHeaders(request, headers),
        ...(upstream ? { [LIVE_TAG_HEADER]: liveTag(upstream.url) } : {}),
      };
    };
    await app.register(httpProxy, {
      // No fixed `upstream`: the WebSocket proxy would then always use it instead of getUpstream.
      upstream: '',
      prefix: '/socket.io',
      rewritePrefix: '/socket.io',
      websocket: true,
      preHandler: async (request) => {
        if (!pickLive(request)) {
          throw new AppError(
            503,
            'SERVICE_UNAVAILABLE',
            'Service unavailable',
            'No live process is ready; try again',
            undefined,
            { 'retry-after': '2' },
          );
        }
      },
      replyOptions: {
        getUpstream: (request) => chosen.get(request as FastifyRequest)!.url,
        rewriteRequestHeaders: (request, headers) =>
          liveHeaders(request as FastifyRequest, headers as Record<string, unknown>),
        onError: (reply, { error }) => {
          const upstream = chosen.get(reply.request);
          if (upstream && NOT_CONNECTED.has(errorCode(error) ?? '')) pool.markDown(upstream);
          reply.request.log.warn({ err: error, upstream: upstream?.url }, 'live upstream request failed');
          reply.send(
            new AppError(502, 'BAD_GATEWAY', 'Bad gateway', 'The live service did not answer; try again'),
          );
        },
      },
      // The plugin reads `rewriteRequestHeaders` here (its types do not list it); by default a
      // WebSocket reaches the process with the client's cookie only.
      wsClientOptions: {
        rewriteRequestHeaders: (headers: Record<string, unknown>, request: FastifyRequest) =>
          liveHeaders(request, {
            ...headers,
            ...(request.headers.cookie ? { cookie: request.headers.cookie } : {}),
          }),
      } as object,
    });
  }
  return app;
}

function errorCode(error: Error): string | undefined {
  const withCause = error as Error & { code?: string; cause?: { code?: string } };
  return withCause.cause?.code ?? withCause.code;
}
