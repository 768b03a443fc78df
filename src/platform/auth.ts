import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, webcrypto } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from './clock.js';
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

/** Verified claims and when the token stops working. */
export type VerifiedAccess = AccessClaims & { expiresAtMs: number };

export interface TokenService {
  signAccess(claims: AccessClaims): Promise<string>;
  verifyAccess(token: string): Promise<VerifiedAccess>;
  /** Encrypts a token for storage; `boundTo` (e.g. the row's token hash) must match on opening. */
  seal(token: string, boundTo: string): string;
  /** The sealed token, or undefined when it was sealed with another key or for another row. */
  open(sealed: string, boundTo: string): string | undefined;
  accessTtlSec: number;
}

/**
 * Short-lived HS256 access tokens; only HS256 is accepted, so `alg: none` and key confusion fail.
 * Issued at and expiring on `clock` (business time), so a test that moves the clock moves them.
 */
export function createTokenService(
  secret: string,
  accessTtlSec: number,
  clock: Clock = systemClock,
): TokenService {
  // Imported once: handed raw bytes, jose imports the key again on every sign and verify.
  let imported: Promise<webcrypto.CryptoKey> | undefined;
  const hmacKey = () =>
    (imported ??= webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ));
  /**
   * Tokens whose signature and claims already checked out, until they expire. A client sends
   * the same access token for its whole life, and verifying it (WebCrypto HMAC through jose,
   * ~70 us) was the largest CPU cost of a signed-in request; a hit costs a map lookup. Only the
   * exact token string hits, and the session behind it is still looked up on every request.
   */
  const verified = new LRUCache<string, AccessClaims & { expiresAtMs: number }>({ max: VERIFIED_TOKENS });

  async function verify(token: string): Promise<AccessClaims & { expiresAtMs: number }> {
    try {
      const { payload } = await jwtVerify(token, await hmacKey(), {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['exp'],
        currentDate: clock(),
      });
      if (payload.typ !== 'access' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
        throw invalidToken();
      }
      return {
        userId: payload.sub,
        sessionId: payload.sid,
        role: payload.role as Role,
        expiresAtMs: (payload.exp as number) * 1000,
      };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw tokenExpired();
      if (error instanceof UnauthorizedError) throw error;
      throw invalidToken();
    }
  }

  const sealKey = Buffer.from(hkdfSync('sha256', secret, '', 'backbeat sealed refresh token', 32));

  return {
    accessTtlSec,
    seal: (token, boundTo) => sealWith(sealKey, token, boundTo),
    open: (sealed, boundTo) => openWith(sealKey, sealed, boundTo),
    async signAccess({ userId, sessionId, role }) {
      const issuedAt = Math.floor(clock().getTime() / 1000);
      return new SignJWT({ sid: sessionId, role, typ: 'access' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + accessTtlSec)
        .sign(await hmacKey());
    },
    async verifyAccess(token) {
      let claims = verified.get(token);
      if (!claims) {
        claims = await verify(token);
        verified.set(token, claims);
      }
      // jose's rule: expired once the clock reaches `exp`.
      if (clock().getTime() >= claims.expiresAtMs) {
        verified.delete(token);
        throw tokenExpired();
      }
      return {
        userId: claims.userId,
        sessionId: claims.sessionId,
        role: claims.role,
        expiresAtMs: claims.expiresAtMs,
      };
    },
  };
}

/** AES-256-GCM, `iv.tag.ciphertext` in base64url; `boundTo` is authenticated, not stored. */
function sealWith(key: Buffer, plain: string, boundTo: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((part) => part.toString('base64url')).join('.');
}

function openWith(key: Buffer, sealed: string, boundTo: string): string | undefined {
  const [iv, tag, data] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
  if (!iv || !tag || !data) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** How many verified access tokens a process remembers (~0.5 KB each). */
const VERIFIED_TOKENS = 10_000;

const invalidToken = () => new UnauthorizedError('The access token is invalid', 'INVALID_TOKEN');
const tokenExpired = () => new UnauthorizedError('The access token has expired', 'TOKEN_EXPIRED');

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
    /** When the caller's access token expires (ms since the epoch); null for anonymous callers. */
    tokenExpiresAtMs: number | null;
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<AuthUser | null>;
  }
}

export function registerAuth(app: FastifyInstance, tokens: TokenService, resolve: SessionResolver): void {
  app.decorateRequest('user', null);
  app.decorateRequest('tokenExpiresAtMs', null);
  app.decorate('authenticate', async (request: FastifyRequest) => {
    // Writes authenticate before their body is read, then again in their preHandler: once is enough.
    if (request.user) return request.user;
    const header = request.headers.authorization;
    if (!header) return null;
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!match?.[1])
      throw new UnauthorizedError('Use the Authorization: Bearer <token> scheme', 'INVALID_TOKEN');
    const { expiresAtMs, ...claims } = await tokens.verifyAccess(match[1]);
    const user = await resolve(claims);
    request.user = user;
    request.tokenExpiresAtMs = expiresAtMs;
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
  const hook: preHandlerAsyncHookHandler = async function requireRoleHook(request) {
    const user = await request.server.authenticate(request);
    if (!user) throw new UnauthorizedError();
    if (roles.length > 0 && !roles.includes(user.role)) {
      throw new ForbiddenError(`This needs one of the roles: ${roles.join(', ')}`, 'INSUFFICIENT_ROLE');
    }
  };
  return Object.assign(hook, { [REQUIRED_ROLES]: roles });
}

const REQUIRED_ROLES = Symbol('requiredRoles');
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Protected writes check the caller before their body is read: a route whose preHandler is a
 * `requireRole` gets the same check as an `onRequest` hook, so an anonymous or unauthorised
 * client cannot make the server read and parse up to the body limit. Register before the routes.
 */
export function authenticateWritesBeforeBody(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (![route.method].flat().some((method) => WRITES.has(method))) return;
    const guard = [route.preHandler ?? []]
      .flat()
      .find(
        (hook): hook is preHandlerAsyncHookHandler => typeof hook === 'function' && REQUIRED_ROLES in hook,
      );
    if (!guard) return;
    const early = async function authenticateBeforeBody(
      this: FastifyInstance,
      request: FastifyRequest,
      reply: FastifyReply,
    ) {
      await guard.call(this, request, reply);
    };
    route.onRequest = [...[route.onRequest ?? []].flat(), early];
  });
}

/** A preHandler for public routes that personalise for signed-in callers; a bad token is still 401. */
export const optionalAuth: preHandlerAsyncHookHandler = async function optionalAuthHook(request) {
  await request.server.authenticate(request);
};
