import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { failoverRateLimitStore } from './redis.js';

/**
 * Requests per client per window, with RateLimit-* headers and a problem+json 429. Counters
 * live in Redis when there is one, so every node (or every gateway) shares them. Requests that
 * `exempt` accepts are not counted here (they were counted where they entered).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  config: Config,
  redis: Redis | undefined,
  exempt?: (request: FastifyRequest) => boolean,
): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    enableDraftSpec: true,
    ...(exempt ? { allowList: exempt } : {}),
    // While Redis is away each node counts locally (platform/redis.ts).
    ...(redis ? { store: failoverRateLimitStore(redis, 'rl:') } : {}),
    errorResponseBuilder: (_request, context) =>
      new AppError(
        429,
        'RATE_LIMITED',
        'Too many requests',
        `Rate limit exceeded, retry in ${context.after}`,
      ),
  });
}
