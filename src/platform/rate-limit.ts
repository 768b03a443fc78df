import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { AppError } from './errors.js';
import { failoverRateLimitStore } from './redis.js';

/**
 * For limiters a service applies itself, on what only it can judge (a failed sign-in, a
 * password check of an account): counted for every request, those through the gateway too,
 * which cannot tell. Give it as `allowList` to `createRateLimit`, which otherwise takes the
 * global one (requests the gateway counted already).
 */
export const COUNT_EVERY_REQUEST = () => false;

/**
 * Requests the global limit does not count, wherever they enter (one process or the gateway):
 * the media files (`/media/*`: signed audio, HLS playlists and segments, public pictures) and
 * their Subsonic twins (`getCoverArt`, `stream`, `download`). A player asks for these by the
 * dozen (a grid of covers, a queue's segments), each is a read of a file made beforehand, and a
 * Subsonic call still needs valid credentials, whose failures keep their own limit. The
 * `/media` routes also say `rateLimit: false` themselves, which the OpenAPI document reads (no
 * 429 on them).
 */
const MEDIA_REQUEST = /^\/(?:media\/|rest\/(?:getCoverArt|stream|download)(?:\.view)?(?:\?|$))/;

const isMediaRequest = (request: FastifyRequest): boolean => MEDIA_REQUEST.test(request.url);

/**
 * Requests per client per window, with RateLimit-* headers and a problem+json 429. Counters
 * live in Redis when there is one, so every node (or every gateway) shares them. Requests that
 * `exempt` accepts are not counted here (they were counted where they entered).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  config: Config,
  redis: Redis | undefined,
  exempt: (request: FastifyRequest) => boolean = () => false,
): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    enableDraftSpec: true,
    allowList: (request) => isMediaRequest(request) || exempt(request),
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
