import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { UnauthorizedError } from './errors.js';

export interface MetricsOptions {
  processMetrics: boolean;
  /** Serve `GET /metrics` at all (off in production without a token). */
  enabled: boolean;
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>`. */
  token: string | undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether the request carries the metrics token; compared in constant time. */
function hasToken(request: FastifyRequest, token: string): boolean {
  const match = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * Prometheus metrics: request counts and latency by route template (never the raw URL, which
 * would explode cardinality) and status, plus Node's process metrics.
 */
/** Counts one answered request, for answers sent outside Fastify's hooks (cached reads). */
export type RecordRequest = (method: string, route: string, status: number, seconds: number) => void;

export function registerMetrics(
  app: FastifyInstance,
  options: MetricsOptions,
): { registry: Registry; record: RecordRequest } {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const record: RecordRequest = (method, route, status, seconds) => {
    const labels = { method, route, status: String(status) };
    requests.inc(labels);
    duration.observe(labels, seconds);
  };
  app.addHook('onResponse', (request, reply, done) => {
    record(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  if (options.enabled) {
    const { token } = options;
    app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
      if (token !== undefined && !hasToken(request, token)) {
        throw new UnauthorizedError('GET /metrics needs the metrics bearer token', 'INVALID_TOKEN');
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  }
  app.addHook('onClose', async () => registry.clear());
  return { registry, record };
}
