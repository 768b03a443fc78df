import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ForbiddenError, UnauthorizedError } from './errors.js';

export const ROLES = ['user', 'artist', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as the database says now (not as the token said when it was issued). */
export interface AuthUser {
  id: string;
  role: Role;
  artistId: string | null;
  sessionId: string;
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
  role: Role;
}

/** Turns verified access-token claims into the current caller, or throws 401/403. */
export type SessionResolver = (claims: AccessClaims) => Promise<AuthUser>;

const ISSUER = 'backbeat';
const AUDIENCE = 'backbeat-api';

export interface TokenService {
  signAccess(claims: AccessClaims): Promise<string>;
  verifyAccess(token: string): Promise<AccessClaims>;
  accessTtlSec: number;
}

/** Short-lived HS256 access tokens; only HS256 is accepted, so `alg: none` and key confusion fail. */
export function createTokenService(secret: string, accessTtlSec: number): TokenService {
  const key = new TextEncoder().encode(secret);
  return {
    accessTtlSec,
    signAccess: ({ userId, sessionId, role }) =>
      new SignJWT({ sid: sessionId, role, typ: 'access' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${accessTtlSec}s`)
        .sign(key),
    async verifyAccess(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: AUDIENCE,
        });
        if (payload.typ !== 'access' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
          throw new UnauthorizedError('The access token is invalid', 'INVALID_TOKEN');
        }
        return { userId: payload.sub, sessionId: payload.sid, role: payload.role as Role };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          throw new UnauthorizedError('The access token has expired', 'TOKEN_EXPIRED');
        }
        if (error instanceof UnauthorizedError) throw error;
        throw new UnauthorizedError('The access token is invalid', 'INVALID_TOKEN');
      }
    },
  };
}

/** A new opaque refresh token and the hash under which it is stored. */
export function newOpaqueToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireRole`/`optionalAuth`; null for anonymous callers. */
    user: AuthUser | null;
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<AuthUser | null>;
  }
}

export function registerAuth(app: FastifyInstance, tokens: TokenService, resolve: SessionResolver): void {
  app.decorateRequest('user', null);
  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) return null;
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!match?.[1])
      throw new UnauthorizedError('Use the Authorization: Bearer <token> scheme', 'INVALID_TOKEN');
    const user = await resolve(await tokens.verifyAccess(match[1]));
    request.user = user;
    return user;
  });
}

/** OpenAPI security requirement for routes that take a Bearer token. */
export const bearerSecurity = [{ bearerAuth: [] }];

/**
 * A preHandler that demands a signed-in caller with one of `roles` (any role when none given).
 * Every protected route uses it, so the rule lives in one place.
 */
export function requireRole(...roles: Role[]): preHandlerAsyncHookHandler {
  return async function requireRoleHook(request) {
    const user = await request.server.authenticate(request);
    if (!user) throw new UnauthorizedError();
    if (roles.length > 0 && !roles.includes(user.role)) {
      throw new ForbiddenError(`This needs one of the roles: ${roles.join(', ')}`, 'INSUFFICIENT_ROLE');
    }
  };
}

/** A preHandler for public routes that personalise for signed-in callers; a bad token is still 401. */
export const optionalAuth: preHandlerAsyncHookHandler = async function optionalAuthHook(request) {
  await request.server.authenticate(request);
};
