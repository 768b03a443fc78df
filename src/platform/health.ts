import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { nameSchemas } from './openapi.js';

export type HealthCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 2000;

async function runCheck(check: HealthCheck): Promise<'ok' | 'error'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch {
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}

const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')], {
    description: '"ok" (with a 200) when every check passes; "degraded" (with a 503) when any fails',
  }),
  roles: Type.Array(Type.String(), { description: 'what this process serves (SERVICES)' }),
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('error')])),
  serving: Type.Boolean({
    description:
      'whether the process still answers requests: false while a dependency it cannot work without (the database) fails or while it shuts down; true when only the cache (Redis) or the event bus (NATS) fails and it serves on its fallbacks',
  }),
});
nameSchemas({ Readiness: ReadyResponse });

/**
 * Liveness (the process answers) and readiness. Any failing check makes `/health/ready` a 503
 * `"degraded"` naming it. `checks` are dependencies the process cannot serve without (the
 * database); `degradable` ones have a fallback (Redis: in-process cache and rate limits; NATS:
 * the outbox holds events). `serving` tells the two apart: the gateway keeps a process whose
 * answer is a 503 with `serving: true` in rotation, since every replica shares those
 * dependencies and taking them all out for a Redis blip would turn it into an outage.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<{
  roles: string[];
  checks: Record<string, HealthCheck>;
  degradable?: Record<string, HealthCheck>;
  /** True while shutting down: not ready, so load balancers and the gateway stop sending work. */
  draining?: () => boolean;
}> = async (app, opts) => {
  const noLimit = { rateLimit: false } as const;
  app.get(
    '/health',
    {
      config: noLimit,
      schema: {
        tags: ['operations'],
        operationId: 'getLiveness',
        summary: 'Liveness',
        description: 'The process answers; nothing else is checked.',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      config: noLimit,
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'Readiness: the process can serve',
        description:
          '200 "ok" when every dependency answers; 503 "degraded" with "error" on the failing checks, or while the process shuts down. `serving` says whether it still answers requests (true while only Redis or NATS is away: it serves on its fallbacks).',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const all = { ...opts.checks, ...opts.degradable };
      const names = Object.keys(all);
      const results = await Promise.all(names.map((name) => runCheck(all[name]!)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
      const draining = opts.draining?.() ?? false;
      const serving = !draining && Object.keys(opts.checks).every((name) => checks[name] === 'ok');
      const healthy = serving && results.every((r) => r === 'ok');
      return reply
        .code(healthy ? 200 : 503)
        .send({ status: healthy ? 'ok' : 'degraded', roles: opts.roles, checks, serving });
    },
  );
};
