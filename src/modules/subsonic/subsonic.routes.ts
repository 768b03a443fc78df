import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import type { Db } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { IdParams, problems } from '../../platform/http.js';
import { nameSchemas } from '../../platform/openapi.js';
import { COUNT_EVERY_REQUEST } from '../../platform/rate-limit.js';
import type { AppPasswords } from './app-passwords.js';
import { authenticate, type Params } from './subsonic.auth.js';
import { ErrorCode, formatOf, SubsonicError, sendEnvelope, toSubsonicError } from './subsonic.response.js';
import { SENT, type SubsonicService } from './subsonic.service.js';

const AppPassword = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});
const NewAppPassword = Type.Object({ ...AppPassword.properties, password: Type.String() });
nameSchemas({ AppPassword, NewAppPassword });

/** `/api/v1/me/app-passwords`: the passwords Subsonic players sign in with. */
export const appPasswordRoutes: FastifyPluginAsyncTypebox<{ appPasswords: AppPasswords }> = async (
  app,
  opts,
) => {
  const { appPasswords } = opts;
  const signedIn = requireRole();

  app.post(
    '/me/app-passwords',
    {
      preHandler: signedIn,
      schema: {
        tags: ['subsonic'],
        operationId: 'createAppPassword',
        summary: 'Create an app password for a Subsonic player',
        description:
          'The password is shown in this response only. Players use it with the account email on /rest; the account password never works there.',
        security: bearerSecurity,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }) },
          { additionalProperties: false },
        ),
        response: {
          201: NewAppPassword,
          ...problems(400, 401),
        },
      },
    },
    async (request, reply) => {
      const created = await appPasswords.create(request.user!.id, request.body.name);
      return reply.code(201).header('location', `/api/v1/me/app-passwords/${created.id}`).send(created);
    },
  );

  app.get(
    '/me/app-passwords',
    {
      preHandler: signedIn,
      schema: {
        tags: ['subsonic'],
        operationId: 'listAppPasswords',
        summary: 'List app passwords',
        description: "The caller's app passwords, newest first (never the passwords themselves).",
        security: bearerSecurity,
        response: { 200: Type.Object({ items: Type.Array(AppPassword) }), ...problems(401) },
      },
    },
    async (request) => ({ items: await appPasswords.list(request.user!.id) }),
  );

  app.delete(
    '/me/app-passwords/:id',
    {
      preHandler: signedIn,
      schema: {
        tags: ['subsonic'],
        operationId: 'deleteAppPassword',
        summary: 'Revoke an app password',
        description: 'Revokes an app password; players using it are signed out.',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: Type.Null(), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      await appPasswords.remove(request.user!.id, request.params.id);
      return reply.code(204).send(null);
    },
  );
};

export interface SubsonicRouteOptions {
  db: Db;
  subsonic: SubsonicService;
  appPasswords: AppPasswords;
  serverVersion: string;
  authRateLimitMax: number;
  rateLimitWindowMs: number;
}

/** The query string and a form body, repeated names kept (`id=1&id=2`). */
function paramsOf(request: FastifyRequest): Params {
  const query = new URLSearchParams(request.url.split('?')[1] ?? '');
  const body = typeof request.body === 'string' ? new URLSearchParams(request.body) : undefined;
  return {
    get: (name) => query.get(name) ?? body?.get(name) ?? undefined,
    all: (name) => [...query.getAll(name), ...(body?.getAll(name) ?? [])],
    names: () => [...new Set([...query.keys(), ...(body?.keys() ?? [])])],
  };
}

/**
 * `/rest/<method>` and `/rest/<method>.view`, GET and form POST: the Subsonic API. Answers are
 * HTTP 200 with `status="failed"` and a Subsonic error code, as players expect; only a Range
 * that cannot be served (416) and the failed-login limit (429) use HTTP statuses.
 */
export const subsonicRoutes: FastifyPluginAsyncTypebox<SubsonicRouteOptions> = async (app, opts) => {
  const { subsonic } = opts;
  // Failed sign-ins count against the stricter limit of the credential endpoints.
  const failedLogins = app.createRateLimit({
    max: opts.authRateLimitMax,
    timeWindow: opts.rateLimitWindowMs,
    keyGenerator: (request) => `subsonic-auth:${request.ip}`,
    // Only this process knows a sign-in failed: counted here for requests through the gateway too.
    allowList: COUNT_EVERY_REQUEST,
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );

  app.route({
    method: ['GET', 'POST'],
    url: '/:method',
    schema: {
      hide: true,
      params: Type.Object({ method: Type.String() }),
      querystring: Type.Object({}, { additionalProperties: true }),
    },
    handler: async (request, reply) => {
      const params = paramsOf(request);
      const format = formatOf(params.get('f'));
      const method = (request.params as { method: string }).method.replace(/\.view$/, '');
      try {
        // OpenSubsonic: the extensions list answers without any credentials.
        if (method === 'getOpenSubsonicExtensions') {
          return sendEnvelope(reply, format, opts.serverVersion, subsonic.extensions());
        }
        const withNul = params.names().find((name) => params.all(name).some((v) => v.includes('\u0000')));
        if (withNul !== undefined) {
          throw new SubsonicError(ErrorCode.generic, `Parameter ${withNul} must not contain NUL characters`);
        }
        const limit = await failedLogins(request, { increment: false });
        if (!limit.isAllowed && limit.remaining === 0) {
          throw new AppError(
            429,
            'RATE_LIMITED',
            'Too many requests',
            'Too many failed sign-ins, retry later',
            undefined,
            {
              'retry-after': String(limit.ttlInSeconds),
            },
          );
        }
        const auth = await authenticate(opts.db, opts.appPasswords, params).catch(async (error: unknown) => {
          if (error instanceof SubsonicError && error.code !== ErrorCode.missingParameter) {
            await failedLogins(request);
          }
          throw error;
        });
        const handler = subsonic.handler(method);
        if (!handler) throw new SubsonicError(ErrorCode.notFound, `Unknown method: ${method}`);
        const result = await handler({ ...auth, params, request, reply });
        if (result === SENT) return reply;
        return sendEnvelope(reply, format, opts.serverVersion, result);
      } catch (error) {
        if (error instanceof AppError && (error.status === 416 || error.status === 429)) throw error;
        if (!(error instanceof SubsonicError || error instanceof AppError))
          request.log.error({ err: error }, 'subsonic call failed');
        return sendEnvelope(reply, format, opts.serverVersion, {}, toSubsonicError(error));
      }
    },
  });
};
