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
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  roles: Type.Array(Type.String(), { description: 'what this process serves (SERVICES)' }),
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('error')])),
});
nameSchemas({ Readiness: ReadyResponse });

/** Liveness (the process answers) and readiness (its dependencies answer too). */
export const healthRoutes: FastifyPluginAsyncTypebox<{
  roles: string[];
  checks: Record<string, HealthCheck>;
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
        summary: 'Readiness',
        description:
          'Whether every dependency (database, cache) answers; 503 with the failing checks while not, or while shutting down.',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const names = Object.keys(opts.checks);
      const results = await Promise.all(names.map((name) => runCheck(opts.checks[name]!)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
      const healthy = results.every((r) => r === 'ok') && !opts.draining?.();
      return reply
        .code(healthy ? 200 : 503)
        .send({ status: healthy ? 'ok' : 'degraded', roles: opts.roles, checks });
    },
  );
};
