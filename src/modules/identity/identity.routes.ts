import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type {
  FastifyInstance,
  onSendAsyncHookHandler,
  preHandlerAsyncHookHandler,
  preValidationAsyncHookHandler,
} from 'fastify';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import { IdParams, pageOf, problems, toPage } from '../../platform/http.js';
import { COUNT_EVERY_REQUEST } from '../../platform/rate-limit.js';
import {
  AdminUpdateUserBody,
  AdminUsersQuery,
  AuthResult,
  LoginBody,
  PublicUserSchema,
  RefreshBody,
  RegisterBody,
  UpdateMeBody,
  UserSchema,
} from './identity.schemas.js';
import { type IdentityService, normaliseEmail } from './identity.service.js';

export interface IdentityRouteOptions {
  identity: IdentityService;
  authRateLimitMax: number;
  rateLimitWindowMs: number;
}

/**
 * Token responses (and their errors) must never be stored by a browser or a shared cache
 * (RFC 6749 section 5.1); `Pragma` is for HTTP/1.0 caches.
 */
const noStore: onSendAsyncHookHandler = async (_request, reply) => {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
};

/** Normalises `email` before validation, so the schema checks the form that will be stored. */
const normaliseEmailField: preValidationAsyncHookHandler = async (request) => {
  const body = request.body as { email?: unknown } | null;
  if (body && typeof body === 'object' && typeof body.email === 'string')
    body.email = normaliseEmail(body.email);
};

export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (app, opts) => {
  const { identity } = opts;
  // Credential endpoints share one stricter budget per client (brute force, credential
  // stuffing): a route-level limit would give each /auth/* route a budget of its own.
  const authLimiter = app.rateLimit({
    max: opts.authRateLimitMax,
    timeWindow: opts.rateLimitWindowMs,
    groupId: 'auth',
  });
  const authLimit = { rateLimit: false } as const;
  const passwordChecks = limitPasswordChecks(app, opts);
  const signedIn = requireRole();
  const adminOnly = requireRole('admin');

  app.post(
    '/auth/register',
    {
      config: authLimit,
      onRequest: authLimiter,
      onSend: noStore,
      preValidation: normaliseEmailField,
      schema: {
        tags: ['auth'],
        operationId: 'registerUser',
        summary: 'Register',
        description: 'Creates an account (role is always user) and signs it in.',
        body: RegisterBody,
        response: { 201: AuthResult, ...problems(409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const result = await identity.register(request.body);
      return reply.code(201).header('location', '/api/v1/me').send(result);
    },
  );

  app.post(
    '/auth/login',
    {
      config: authLimit,
      onRequest: authLimiter,
      onSend: noStore,
      preValidation: normaliseEmailField,
      schema: {
        tags: ['auth'],
        operationId: 'login',
        summary: 'Sign in',
        description: 'Signs in with email or username, and password; answers an access and a refresh token.',
        body: LoginBody,
        response: { 200: AuthResult, ...problems(401, 403, 429) },
      },
    },
    (request) => identity.login(request.body),
  );

  app.post(
    '/auth/refresh',
    {
      config: authLimit,
      onRequest: authLimiter,
      onSend: noStore,
      schema: {
        tags: ['auth'],
        operationId: 'refreshSession',
        summary: 'Refresh tokens',
        description: 'Exchanges a refresh token for a new pair; the old refresh token is spent.',
        body: RefreshBody,
        response: { 200: AuthResult, ...problems(401, 403, 429) },
      },
    },
    (request) => identity.refresh(request.body.refreshToken),
  );

  app.post(
    '/auth/logout',
    {
      config: authLimit,
      onRequest: authLimiter,
      onSend: noStore,
      schema: {
        tags: ['auth'],
        operationId: 'logout',
        summary: 'Sign out',
        description: "Ends the refresh token's session; its access tokens stop working at once.",
        body: RefreshBody,
        response: { 204: Type.Null(), ...problems(429) },
      },
    },
    async (request, reply) => {
      await identity.logout(request.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      preHandler: signedIn,
      schema: {
        tags: ['account'],
        operationId: 'getMe',
        summary: 'Get the signed-in user',
        description: 'The signed-in user, with their email.',
        security: bearerSecurity,
        response: { 200: UserSchema, ...problems(401, 403) },
      },
    },
    (request) => identity.getMe(request.user!),
  );

  app.patch(
    '/me',
    {
      preHandler: [signedIn, passwordChecks],
      schema: {
        tags: ['account'],
        operationId: 'updateMe',
        summary: 'Change display name, username or password',
        description:
          'A new password ends the other sessions. Requests with currentPassword count against the /auth limit, per account.',
        security: bearerSecurity,
        body: UpdateMeBody,
        response: { 200: UserSchema, ...problems(401, 403, 409, 429) },
      },
    },
    (request) => identity.updateMe(request.user!, request.body),
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['account'],
        operationId: 'getUser',
        summary: "Get a user's profile",
        description: 'What anyone may see of a user.',
        params: IdParams,
        response: { 200: PublicUserSchema, ...problems(404) },
      },
    },
    (request) => identity.getPublicProfile(request.params.id),
  );

  app.get(
    '/admin/users',
    {
      preHandler: adminOnly,
      schema: {
        tags: ['admin'],
        operationId: 'listUsers',
        summary: 'List users',
        description: 'Every user, for administrators.',
        security: bearerSecurity,
        querystring: AdminUsersQuery,
        response: { 200: pageOf(UserSchema), ...problems(401, 403) },
      },
    },
    async (request) => {
      const { limit = 20, offset = 0, ...filter } = request.query;
      const { items, total } = await identity.listUsers({ ...filter, limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );

  app.patch(
    '/admin/users/:id',
    {
      preHandler: adminOnly,
      schema: {
        tags: ['admin'],
        operationId: 'updateUser',
        summary: 'Update a user',
        description:
          "Changes a user's role (artist needs artistId), blocked flag or artistId (administrators).",
        security: bearerSecurity,
        params: IdParams,
        body: AdminUpdateUserBody,
        response: { 200: UserSchema, ...problems(401, 403, 404, 409) },
      },
    },
    (request) => identity.adminUpdateUser(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/admin/users/:id',
    {
      preHandler: adminOnly,
      schema: {
        tags: ['admin'],
        operationId: 'deleteUser',
        summary: 'Delete a user',
        description: 'Deletes a user; their tokens stop working at once (administrators).',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await identity.adminDeleteUser(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );
};

/**
 * A `currentPassword` is a password guess like a login: requests carrying one share the
 * credential endpoints' limit, counted per account (whoever holds its access token), so a
 * stolen token cannot be used to guess the password at the general rate.
 */
function limitPasswordChecks(app: FastifyInstance, opts: IdentityRouteOptions): preHandlerAsyncHookHandler {
  const limit = app.createRateLimit({
    max: opts.authRateLimitMax,
    timeWindow: opts.rateLimitWindowMs,
    keyGenerator: (request) => `password-check:${request.user!.id}`,
    // Per account, which the gateway does not know: counted here for requests through it too.
    allowList: COUNT_EVERY_REQUEST,
  });
  return async function passwordCheckLimit(request, reply) {
    if ((request.body as { currentPassword?: string } | undefined)?.currentPassword === undefined) return;
    const result = await limit(request);
    if (result.isAllowed) return;
    reply.header('ratelimit-limit', result.max);
    reply.header('ratelimit-remaining', result.remaining);
    reply.header('ratelimit-reset', result.ttlInSeconds);
    if (result.isExceeded) {
      throw new AppError(
        429,
        'RATE_LIMITED',
        'Too many requests',
        `Too many password checks, retry in ${result.ttlInSeconds} seconds`,
        undefined,
        { 'retry-after': String(result.ttlInSeconds) },
      );
    }
  };
}
