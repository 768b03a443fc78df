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
    description:
      '"degraded" when any check fails; the answer is still 200 when only checks the process can serve without (cache, events) fail',
  }),
  roles: Type.Array(Type.String(), { description: 'what this process serves (SERVICES)' }),
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('error')])),
});
nameSchemas({ Readiness: ReadyResponse });

/**
 * Liveness (the process answers) and readiness (it can serve). `checks` are dependencies the
 * process cannot serve without (the database): one failing makes `/health/ready` a 503, so load
 * balancers and the gateway stop sending work. `degradable` checks are dependencies the process
 * has a fallback for (Redis: in-process cache and rate limits; NATS: the outbox holds events):
 * one failing is reported (`"degraded"`, `"error"` on the check) but the answer stays 200.
 * Every replica shares those dependencies, so failing readiness on them would take every
 * replica out of rotation at once for a blip the replicas can serve through.
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
          '503 while a dependency the process cannot serve without (the database) fails, or while it shuts down. A failing cache (Redis) or event bus (NATS) is reported as "degraded" with a 200: the process serves on its fallbacks.',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const all = { ...opts.checks, ...opts.degradable };
      const names = Object.keys(all);
      const results = await Promise.all(names.map((name) => runCheck(all[name]!)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
      const draining = opts.draining?.() ?? false;
      const ready = !draining && Object.keys(opts.checks).every((name) => checks[name] === 'ok');
      const healthy = ready && results.every((r) => r === 'ok');
      return reply
        .code(ready ? 200 : 503)
        .send({ status: healthy ? 'ok' : 'degraded', roles: opts.roles, checks });
    },
  );
};
