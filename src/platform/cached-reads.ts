import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerFactory,
  FastifyServerOptions,
} from 'fastify';
import { LRUCache } from 'lru-cache';
import { stillCached } from './cache.js';
import type { RecordRequest } from './metrics.js';

/**
 * Anonymous cached reads answered before Fastify sees them.
 *
 * A cached album page costs little in the route (the bytes and the ETag are kept per cached
 * value and URL, see `replyFromCache`), but every request still went through Fastify's whole
 * pipeline: routing, request and reply objects, a child logger, query validation, the auth,
 * CORS, rate-limit, security-header, ETag and metrics hooks. A route that marks its answer
 * replayable (its 200 depends on nothing but one value from the in-process cache and the URL)
 * has that answer recorded after Fastify sent it: status, every header in order, and the body.
 * The next request for the same method, URL and `Origin` is answered here from the recording,
 * as long as
 *
 * - it carries no header outside `NEUTRAL_HEADERS` (no `Authorization`, no `If-None-Match`, no
 *   forwarding headers, no body...): those take the normal path, where they mean something;
 * - the cache would still hand out the very value the answer was made from (no tag it depends
 *   on was invalidated, its entry has not expired or been evicted): a write's invalidation, done
 *   before the write is answered, makes the next read take the normal path and record anew;
 * - the embedded database is not shedding load and the server is not draining (the normal path
 *   answers those);
 * - the rate limiter, asked exactly as its hook asks it, lets the request through.
 *
 * The per-request headers are made here as Fastify's hooks make them: `X-Request-Id` (echoed or
 * new) and `RateLimit-Limit`/`-Remaining`/`-Reset` from the same limiter and counters; every
 * other header (security headers, CORS for that `Origin`, `Vary`, `Cache-Control`, `ETag`,
 * `Content-Type`, `Content-Length`) is the recorded value. The request is counted in the
 * metrics and logged ("incoming request", "request completed") as Fastify would. A request over
 * its limit goes to Fastify, which answers the 429 (its counter is then counted twice, while
 * it is over the limit anyway). Values from Redis are copies, so with a Redis cache nothing is
 * recorded and every request takes the normal path. `app.inject` does not pass the server, so
 * in-process tests see the normal path only.
 */

/**
 * Request headers that change nothing in a recorded answer: they may be anything. `Origin` is
 * part of the key (CORS answers per origin); `X-Request-Id` is echoed per request. Any other
 * header sends the request through Fastify.
 */
const NEUTRAL_HEADERS = new Set([
  'host',
  'connection',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'origin',
  'referer',
  'x-request-id',
  'cache-control',
  'pragma',
  'dnt',
  'priority',
  'upgrade-insecure-requests',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
  'sec-fetch-user',
  'sec-ch-ua',
  'sec-ch-ua-mobile',
  'sec-ch-ua-platform',
]);

/** Log levels at which Fastify logs every request (at `info`). */
const LOGS_REQUESTS = new Set(['info', 'debug', 'trace']);

/** Recordings kept (an album page is about 8 KB). */
const MAX_RECORDINGS = 1_000;

/** On the raw request of an eligible request that was not answered here: its recording's key. */
const CANDIDATE = Symbol('cachedReads.candidate');
/** On the raw request whose route called `replayable`: what its answer was made from. */
const REPLAYABLE = Symbol('cachedReads.replayable');

type Raw = IncomingMessage & {
  [CANDIDATE]?: string;
  [REPLAYABLE]?: { holds: () => boolean; body: string };
};

type HeaderValue = string | number | readonly string[];

interface Recording {
  /** Whether the cached value the answer was made from is still the one the cache holds. */
  holds: () => boolean;
  /** The route pattern, for the metrics. */
  route: string;
  /** Header names and values in the order Fastify wrote them; the per-request ones are filled in. */
  headers: HeaderValue[];
  requestIdAt: number;
  limitAt: number;
  remainingAt: number;
  resetAt: number;
  /** Undefined for HEAD. */
  body: Buffer | undefined;
}

/** What `@fastify/rate-limit`'s `createRateLimit()` reads of a request. */
interface LimiterRequest {
  ip: string;
  headers: IncomingHttpHeaders;
  routeOptions: { config: Record<string, never> };
}

type LimiterResult =
  | { isAllowed: true }
  | { isAllowed: false; isExceeded: boolean; max: number; remaining: number; ttlInSeconds: number };

export interface CachedReadsDeps {
  log: FastifyBaseLogger;
  /** The request id Fastify would give the request (`genReqId`). */
  requestId: (req: IncomingMessage) => string;
  /** The global rate limiter (`app.createRateLimit()`): same counters, same key, same limit. */
  rateLimit: (request: FastifyRequest) => Promise<LimiterResult>;
  record: RecordRequest;
  /** True while the embedded database sheds load (the normal path answers 503). */
  busy?: () => boolean;
  draining: () => boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class CachedReads {
  private readonly recordings = new LRUCache<string, Recording>({ max: MAX_RECORDINGS });
  private deps: CachedReadsDeps | undefined;
  /** Requests answered from a recording since start (tests check that they took this path). */
  replayed = 0;

  /**
   * Fastify's `serverFactory`: the HTTP server Fastify would make (same timeouts), whose
   * requests come here first.
   */
  readonly serverFactory: FastifyServerFactory = (handler, options) => {
    const opts = options as FastifyServerOptions & { http?: object | null };
    const server = createServer(opts.http ?? {}, (req, res) => {
      if (!this.answer(req, res, handler)) handler(req, res);
    });
    // As Fastify sets them on the server it makes (lib/server.js).
    if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
    if (opts.requestTimeout !== undefined) server.requestTimeout = opts.requestTimeout;
    if (opts.connectionTimeout !== undefined) server.setTimeout(opts.connectionTimeout);
    if (opts.maxRequestsPerSocket) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
    return server;
  };

  /** Starts recording and answering; until then every request takes the normal path. */
  enable(app: FastifyInstance, deps: CachedReadsDeps): void {
    this.deps = deps;
    app.addHook('onResponse', (request, reply, done) => {
      const raw = request.raw as Raw;
      const key = raw[CANDIDATE];
      const made = raw[REPLAYABLE];
      if (key !== undefined && made !== undefined && reply.statusCode === 200) {
        const recording = record(request, reply, made.holds, made.body);
        if (recording) this.recordings.set(key, recording);
      }
      done();
    });
  }

  /** Answers `req` from a recording; false when the normal path must (nothing written then). */
  private answer(req: IncomingMessage, res: ServerResponse, handler: Handler): boolean {
    const deps = this.deps;
    if (deps === undefined) return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const headers = req.headers;
    for (const name in headers) if (!NEUTRAL_HEADERS.has(name)) return false;
    const origin = headers.origin;
    const key = origin === undefined ? `${method} ${req.url}` : `${method} ${req.url}\n${origin}`;
    if (deps.draining()) return false;
    (req as Raw)[CANDIDATE] = key;
    const recording = this.recordings.get(key);
    if (recording === undefined) return false;
    if (!recording.holds()) {
      this.recordings.delete(key);
      return false;
    }
    const ip = req.socket.remoteAddress;
    if (ip === undefined || deps.busy?.()) return false;
    const start = performance.now();
    const id = deps.requestId(req);
    const asked: LimiterRequest = { ip, headers, routeOptions: { config: {} } };
    deps.rateLimit(asked as unknown as FastifyRequest).then(
      (limit) => {
        // Over the limit (or not counted at all, which a neutral request never is): Fastify answers.
        if (limit.isAllowed || limit.isExceeded || deps.draining()) {
          handler(req, res);
          return;
        }
        this.replayed++;
        const written = recording.headers.slice();
        written[recording.requestIdAt] = id;
        written[recording.limitAt] = limit.max;
        written[recording.remainingAt] = limit.remaining;
        written[recording.resetAt] = limit.ttlInSeconds;
        const logged = LOGS_REQUESTS.has(deps.log.level) ? deps.log.child({ reqId: id }) : undefined;
        logged?.info({ req: requestForLog(req, ip) }, 'incoming request');
        res.writeHead(200, written as unknown as string[]);
        if (recording.body === undefined) res.end();
        else res.end(recording.body);
        const elapsed = performance.now() - start;
        deps.record(method, recording.route, 200, elapsed / 1000);
        logged?.info({ res: { statusCode: 200 }, responseTime: elapsed }, 'request completed');
      },
      // The limiter's store failed: the normal path meets the same failure and answers it.
      () => handler(req, res),
    );
    return true;
  }
}

/**
 * What the logger's `req` serializer (`serializeRequest`) reads of a Fastify request, for the
 * "incoming request" line: the logger serializes it, as it does Fastify's request.
 */
function requestForLog(
  req: IncomingMessage,
  ip: string,
): Pick<FastifyRequest, 'method' | 'url' | 'host' | 'ip'> & {
  socket: IncomingMessage['socket'];
} {
  return { method: req.method!, url: req.url!, host: req.headers.host ?? '', ip, socket: req.socket };
}

/** Headers made per request: left as slots in a recording. */
const PER_REQUEST = ['x-request-id', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'] as const;

/** The recording of the answer Fastify just sent, or undefined when it cannot be replayed as is. */
function record(
  request: FastifyRequest,
  reply: FastifyReply,
  holds: () => boolean,
  body: string,
): Recording | undefined {
  const sent = reply.getHeaders();
  // A closing connection (draining) is this answer's own; so is an answer without the headers
  // made per request (a route that is not rate limited).
  if (sent.connection !== undefined) return undefined;
  if (PER_REQUEST.some((name) => sent[name] === undefined)) return undefined;
  const head = request.method === 'HEAD';
  const bytes = Buffer.from(body);
  if (Number(sent['content-length']) !== bytes.length) return undefined;
  const headers: HeaderValue[] = [];
  const at: Record<string, number> = {};
  for (const [name, value] of Object.entries(sent)) {
    if (value === undefined) continue;
    if ((PER_REQUEST as readonly string[]).includes(name)) at[name] = headers.length + 1;
    headers.push(name, value);
  }
  return {
    holds,
    route: request.routeOptions.url ?? 'unmatched',
    headers,
    requestIdAt: at['x-request-id']!,
    limitAt: at['ratelimit-limit']!,
    remainingAt: at['ratelimit-remaining']!,
    resetAt: at['ratelimit-reset']!,
    body: head ? undefined : bytes,
  };
}

/**
 * Marks the answer being sent as replayable: its 200 depends on nothing but `source` (a value
 * from `Cache.read`) and the URL, with no check the route makes besides (not the artist's
 * visibility before an artist's album list, for instance). Does nothing for requests that
 * could not be answered from a recording anyway, or when `source` is not from the in-process
 * cache.
 */
export function replayable(request: FastifyRequest, source: object, body: string): void {
  const raw = request.raw as Raw;
  if (raw[CANDIDATE] === undefined) return;
  const holds = stillCached(source);
  if (holds) raw[REPLAYABLE] = { holds, body };
}
