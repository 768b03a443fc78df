import { eq } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestApp,
  call,
  createAdmin,
  login,
  register,
  type Session,
  TEST_JWT_SECRET,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers.js';
import { hashToken } from '../../platform/auth.js';
import { REFRESH_REUSE_WINDOW_MS } from './identity.service.js';
import { refreshTokens } from './identity.tables.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

const PASSWORD = 'correct-horse-battery';

function forge(claims: Record<string, unknown>, options: { secret?: string; expiresIn?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('backbeat')
    .setAudience('backbeat-api')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '15m')
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** The claims of a JWT, unverified. */
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

/** The session's access token signed again with the right key, expiring at `exp` (s) or never. */
function reissue(session: Session, exp: number | null) {
  const { sid, sub } = claimsOf(session.accessToken);
  const token = new SignJWT({ sid, role: 'user', typ: 'access' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer('backbeat')
    .setAudience('backbeat-api')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600);
  return (exp === null ? token : token.setExpirationTime(exp)).sign(
    new TextEncoder().encode(TEST_JWT_SECRET),
  );
}

describe('registration', () => {
  it('creates a user with tokens and never another role', async () => {
    const email = uniqueEmail();
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: email.toUpperCase(), password: PASSWORD, displayName: 'Ada' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/api/v1/me');
    expect(res.body).toMatchObject({
      user: { email, displayName: 'Ada', role: 'user', artistId: null, blocked: false },
      tokenType: 'Bearer',
      expiresIn: 900,
    });
    expect(res.body.user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(typeof res.body.refreshToken).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/argon2|passwordHash/i);
  });

  it('rejects a role field (mass assignment) with 400 and creates nothing', async () => {
    const email = uniqueEmail();
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email, password: PASSWORD, displayName: 'Eve', role: 'admin' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: '/role' }] });
    const loginRes = await call(t.app, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(loginRes.status).toBe(401);
  });

  it('rejects a duplicate email case-insensitively with 409', async () => {
    const email = uniqueEmail();
    await register(t.app, { email });
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: email.toUpperCase(), password: PASSWORD, displayName: 'Dup' },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('EMAIL_TAKEN');
  });

  it.each([
    [{ password: 'short', displayName: 'x' }, '/password'],
    [{ password: 'x'.repeat(129), displayName: 'x' }, '/password'],
    [{ password: PASSWORD, displayName: '' }, '/displayName'],
    [{ password: PASSWORD, displayName: 'x'.repeat(65) }, '/displayName'],
    [{ password: PASSWORD }, '/displayName'],
    [{ password: PASSWORD, displayName: 'x', email: 'not-an-email' }, '/email'],
  ])('validates %j', async (fields, path) => {
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: uniqueEmail(), ...fields },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });
});

describe('login', () => {
  it('matches the email case-insensitively', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: s.user.email!.toUpperCase(), password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(s.user.id);
  });

  it('folds Unicode look-alikes (NFKC, lower case) the same way as registration does', async () => {
    const local = `kelvin-${uniqueEmail().split('@')[0]}`;
    const kelvin = `\u212A${local.slice(1)}@example.test`; // KELVIN SIGN for the leading k
    const fullWidth = `${[...local].map((c) => (/[a-z]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('')}@example.test`;
    const registered = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: kelvin, password: PASSWORD, displayName: 'Kelvin' },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.user.email).toBe(`${local}@example.test`);
    const viaFullWidth = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: fullWidth, password: PASSWORD },
    });
    expect(viaFullWidth.status).toBe(200);
    expect(viaFullWidth.body.user.id).toBe(registered.body.user.id);
    const twin = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: fullWidth, password: PASSWORD, displayName: 'Twin' },
    });
    expect(twin.status).toBe(409);
    expect(twin.body.code).toBe('EMAIL_TAKEN');
  });

  it('answers unknown email and wrong password the same way', async () => {
    const s = await register(t.app);
    const wrong = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: 'nope-nope-nope' },
    });
    const unknown = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: uniqueEmail(), password: 'nope-nope-nope' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
  });
});

describe('caching of auth responses', () => {
  it('marks every /auth/* answer, success or error, Cache-Control: no-store', async () => {
    const email = uniqueEmail();
    const answers = [
      await call(t.app, 'POST', '/api/v1/auth/register', {
        body: { email, password: PASSWORD, displayName: 'C' },
      }),
      await call(t.app, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } }),
      await call(t.app, 'POST', '/api/v1/auth/login', { body: { email, password: 'wrong-password' } }),
      await call(t.app, 'POST', '/api/v1/auth/login', { body: { email } }),
    ];
    const { refreshToken } = answers[1]!.body;
    const refreshed = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken } });
    answers.push(refreshed);
    answers.push(
      await call(t.app, 'POST', '/api/v1/auth/logout', {
        body: { refreshToken: refreshed.body.refreshToken },
      }),
    );
    expect(answers.map((a) => a.status)).toEqual([201, 200, 401, 400, 200, 204]);
    for (const answer of answers) {
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers.pragma).toBe('no-cache');
    }
    expect(answers[1]!.body.accessToken).toBeTruthy();
  });
});

describe('access tokens', () => {
  it('reads /me with a valid token, including the email', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'GET', '/api/v1/me', { session: s });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: s.user.id, email: s.user.email, role: 'user' });
  });

  it('answers 401 with WWW-Authenticate when the token is missing', async () => {
    const res = await call(t.app, 'GET', '/api/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body.code).toBe('UNAUTHORIZED');
  });

  it('rejects a tampered token', async () => {
    const s = await register(t.app);
    const [h, p, sig] = s.accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${sig}`;
    const res = await call(t.app, 'GET', '/api/v1/admin/users', {
      headers: { authorization: `Bearer ${tampered}` },
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_TOKEN');
  });

  it('rejects alg: none', async () => {
    const s = await register(t.app);
    const payload = claimsOf(s.accessToken);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ ...payload, role: 'admin' }),
    ).toString('base64url')}.`;
    const res = await call(t.app, 'GET', '/api/v1/me', { headers: { authorization: `Bearer ${none}` } });
    expect(res.status).toBe(401);
  });

  it('rejects a token signed with another key', async () => {
    const s = await register(t.app);
    const payload = claimsOf(s.accessToken);
    const token = await forge(
      { ...payload, exp: undefined, iat: undefined },
      { secret: 'another-secret-another-secret-1234' },
    );
    const res = await call(t.app, 'GET', '/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
  });

  it('rejects an expired token with TOKEN_EXPIRED', async () => {
    const expired = await reissue(await register(t.app), Math.floor(Date.now() / 1000) - 60);
    const res = await call(t.app, 'GET', '/api/v1/me', { headers: { authorization: `Bearer ${expired}` } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('TOKEN_EXPIRED');
  });

  it('expires a token on the app clock even after it was accepted (verified tokens are remembered)', async () => {
    let now = Date.now();
    const own = await buildTestApp({ ACCESS_TOKEN_TTL: '15m' }, { clock: () => new Date(now) });
    try {
      const s = await register(own.app);
      const { iat, exp } = claimsOf(s.accessToken);
      // Issued on the clock: the TTL from the clock's second, not from whenever that was in real time.
      expect(iat).toBe(Math.floor(now / 1000));
      expect(exp - iat).toBe(15 * 60);
      const me = () =>
        call(own.app, 'GET', '/api/v1/me', { headers: { authorization: `Bearer ${s.accessToken}` } });
      expect((await me()).status).toBe(200);
      now = exp * 1000 - 1;
      expect((await me()).status).toBe(200);
      now = exp * 1000;
      const res = await me();
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('TOKEN_EXPIRED');
    } finally {
      await own.close();
    }
  });

  it('rejects a token without an expiry, even signed with the right key', async () => {
    const forever = await reissue(await register(t.app), null);
    const res = await call(t.app, 'GET', '/api/v1/me', { headers: { authorization: `Bearer ${forever}` } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_TOKEN');
  });

  it('rejects a refresh token used as an access token', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${s.refreshToken}` },
    });
    expect(res.status).toBe(401);
  });

  it('rejects an access token used as a refresh token', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: s.accessToken } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_REFRESH_TOKEN');
  });

  it('rejects a token whose claims say admin when the database says user', async () => {
    const s = await register(t.app);
    const payload = claimsOf(s.accessToken);
    // Even correctly signed, a stale role claim grants nothing: the role is read from the database.
    const token = await new SignJWT({ sid: payload.sid, role: 'admin', typ: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(payload.sub)
      .setIssuer('backbeat')
      .setAudience('backbeat-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const res = await call(t.app, 'GET', '/api/v1/admin/users', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
  });
});

describe('refresh tokens', () => {
  const refresh = (refreshToken: string) =>
    call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken } });
  /** Moves a token's first use into the past, as if that much time had gone by since. */
  const spentSecondsAgo = (refreshToken: string, seconds: number) =>
    t.database.db
      .update(refreshTokens)
      .set({ usedAt: new Date(Date.now() - seconds * 1000) })
      .where(eq(refreshTokens.tokenHash, hashToken(refreshToken)));

  it('rotates: the new pair works and the old refresh token is spent', async () => {
    const s = await register(t.app);
    const first = await call(t.app, 'POST', '/api/v1/auth/refresh', {
      body: { refreshToken: s.refreshToken },
    });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(s.refreshToken);
    const me = await call(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${first.body.accessToken}` },
    });
    expect(me.status).toBe(200);
  });

  it('revokes the whole family when a spent token is presented again after the reuse window', async () => {
    const s = await register(t.app);
    const rotated = await refresh(s.refreshToken);
    await spentSecondsAgo(s.refreshToken, REFRESH_REUSE_WINDOW_MS / 1000 + 1);
    const reuse = await refresh(s.refreshToken);
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('REFRESH_TOKEN_REUSED');
    const next = await refresh(rotated.body.refreshToken);
    expect(next.status).toBe(401);
    const me = await call(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${rotated.body.accessToken}` },
    });
    expect(me.status).toBe(401);
  });

  it('gives a double submit within the reuse window the same successor instead of a logout', async () => {
    const s = await register(t.app);
    const first = await refresh(s.refreshToken);
    const again = await refresh(s.refreshToken);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.refreshToken).toBe(first.body.refreshToken);
    expect(again.body.user.id).toBe(s.user.id);
    for (const accessToken of [first.body.accessToken, again.body.accessToken]) {
      const me = await call(t.app, 'GET', '/api/v1/me', {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(me.status).toBe(200);
    }
    // The family goes on from the shared successor, which is spent once as usual.
    const next = await refresh(first.body.refreshToken);
    expect(next.status).toBe(200);
    expect(next.body.refreshToken).not.toBe(first.body.refreshToken);
  });

  it('lets two concurrent refreshes with one token both get the same new refresh token', async () => {
    const s = await register(t.app);
    const results = await Promise.all([refresh(s.refreshToken), refresh(s.refreshToken)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results[0]!.body.refreshToken).toBe(results[1]!.body.refreshToken);
  });

  it('honours the reuse window only for the immediately previous token', async () => {
    const s = await register(t.app);
    const second = await refresh(s.refreshToken);
    const third = await refresh(second.body.refreshToken);
    expect(third.status).toBe(200);
    const stale = await refresh(s.refreshToken);
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe('REFRESH_TOKEN_REUSED');
    expect((await refresh(third.body.refreshToken)).status).toBe(401);
  });

  it('does not answer a reuse within the window once the session is logged out', async () => {
    const s = await register(t.app);
    const rotated = await refresh(s.refreshToken);
    await call(t.app, 'POST', '/api/v1/auth/logout', { body: { refreshToken: rotated.body.refreshToken } });
    const reuse = await refresh(s.refreshToken);
    expect(reuse.status).toBe(401);
  });

  it('never stores a refresh token in plain text', async () => {
    const s = await register(t.app);
    const rotated = await refresh(s.refreshToken);
    const stored = JSON.stringify(
      await t.database.db
        .select()
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, hashToken(s.refreshToken))),
    );
    expect(stored).toContain('successorSealed');
    expect(stored).not.toContain(rotated.body.refreshToken);
    expect(stored).not.toContain(hashToken(rotated.body.refreshToken));
  });

  it('rejects an unknown refresh token', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/refresh', {
      body: { refreshToken: 'made-up-token' },
    });
    expect(res.status).toBe(401);
  });
});

describe('logout', () => {
  it('ends the session: its access and refresh tokens stop working at once', async () => {
    const s = await register(t.app);
    const other = await login(t.app, s.user.email!, PASSWORD);
    const res = await call(t.app, 'POST', '/api/v1/auth/logout', { body: { refreshToken: s.refreshToken } });
    expect(res.status).toBe(204);
    expect((await call(t.app, 'GET', '/api/v1/me', { session: s })).status).toBe(401);
    expect(
      (await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: s.refreshToken } })).status,
    ).toBe(401);
    // Another sign-in of the same user is a different session and keeps working.
    expect((await call(t.app, 'GET', '/api/v1/me', { session: other })).status).toBe(200);
  });

  it('answers concurrent requests of live and ended sessions each by its own session', async () => {
    const admin = await createAdmin(t.app);
    const [live, ended, blocked] = [await register(t.app), await register(t.app), await register(t.app)];
    await call(t.app, 'POST', '/api/v1/auth/logout', { body: { refreshToken: ended.refreshToken } });
    await call(t.app, 'PATCH', `/api/v1/admin/users/${blocked.user.id}`, {
      session: admin,
      body: { blocked: true },
    });
    // Sent at once, so their session lookups share queries.
    const callers = [live, ended, blocked, admin, live, ended, blocked, admin];
    const answers = await Promise.all(
      callers.map((session) => call(t.app, 'GET', '/api/v1/me', { session })),
    );
    expect(answers.map((res) => res.status)).toEqual([200, 401, 403, 200, 200, 401, 403, 200]);
    expect(answers[0]!.body.id).toBe(live.user.id);
    expect(answers[3]!.body.role).toBe('admin');
    expect(answers[1]!.body.code).toBe('SESSION_ENDED');
  });

  it('is quiet about unknown tokens', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/logout', { body: { refreshToken: 'never-issued' } });
    expect(res.status).toBe(204);
  });
});

describe('PATCH /me', () => {
  it('changes the display name', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'PATCH', '/api/v1/me', { session: s, body: { displayName: 'Renamed' } });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe('Renamed');
  });

  it('needs currentPassword for newPassword (400) and the right one (403)', async () => {
    const s = await register(t.app);
    const missing = await call(t.app, 'PATCH', '/api/v1/me', {
      session: s,
      body: { newPassword: 'another-password' },
    });
    expect(missing.status).toBe(400);
    const wrong = await call(t.app, 'PATCH', '/api/v1/me', {
      session: s,
      body: { newPassword: 'another-password', currentPassword: 'wrong-password' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('WRONG_PASSWORD');
  });

  it('a new password ends every other session but keeps this one', async () => {
    const s = await register(t.app);
    const other = await login(t.app, s.user.email!, PASSWORD);
    const res = await call(t.app, 'PATCH', '/api/v1/me', {
      session: s,
      body: { currentPassword: PASSWORD, newPassword: 'a-brand-new-password' },
    });
    expect(res.status).toBe(200);
    expect((await call(t.app, 'GET', '/api/v1/me', { session: other })).status).toBe(401);
    expect(
      (await call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: other.refreshToken } }))
        .status,
    ).toBe(401);
    expect((await call(t.app, 'GET', '/api/v1/me', { session: s })).status).toBe(200);
    await login(t.app, s.user.email!, 'a-brand-new-password');
  });

  it('cannot change the role', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'PATCH', '/api/v1/me', { session: s, body: { role: 'admin' } });
    expect(res.status).toBe(400);
  });
});

describe('PATCH /me password checks', () => {
  it('counts currentPassword guesses against the auth limit, per account', async () => {
    const own = await buildTestApp({ RATE_LIMIT_AUTH_MAX: '3' });
    try {
      const victim = await register(own.app);
      const guess = (currentPassword: string) =>
        call(own.app, 'PATCH', '/api/v1/me', {
          session: victim,
          body: { currentPassword, newPassword: 'a-new-password-123' },
        });
      for (const attempt of ['guess-one-1', 'guess-two-2', 'guess-three-3']) {
        expect((await guess(attempt)).status).toBe(403);
      }
      const limited = await guess('correct-horse-battery');
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Other changes and other accounts are not held up.
      const rename = await call(own.app, 'PATCH', '/api/v1/me', {
        session: victim,
        body: { displayName: 'Still here' },
      });
      expect(rename.status).toBe(200);
      const other = await register(own.app);
      const body = { currentPassword: 'correct-horse-battery', newPassword: 'a-new-password-123' };
      expect((await call(own.app, 'PATCH', '/api/v1/me', { session: other, body })).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('admin user management', () => {
  it('is admin-only: 401 anonymous, 403 for users', async () => {
    const s = await register(t.app);
    expect((await call(t.app, 'GET', '/api/v1/admin/users')).status).toBe(401);
    const res = await call(t.app, 'GET', '/api/v1/admin/users', { session: s });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('INSUFFICIENT_ROLE');
  });

  it('lists and filters users with pages', async () => {
    const admin = await createAdmin(t.app);
    const target = await register(t.app, { displayName: 'Findable Person' });
    const res = await call(t.app, 'GET', '/api/v1/admin/users?q=findable&limit=5', { session: admin });
    expect(res.status).toBe(200);
    expect(res.body.items.map((u: { id: string }) => u.id)).toContain(target.user.id);
    expect(res.body).toMatchObject({ limit: 5, offset: 0, previous: null });
    const admins = await call(t.app, 'GET', '/api/v1/admin/users?role=admin', { session: admin });
    expect(admins.body.items.every((u: { role: string }) => u.role === 'admin')).toBe(true);
    const page = await call(t.app, 'GET', '/api/v1/admin/users?limit=1', { session: admin });
    expect(page.body.next).toBe('/api/v1/admin/users?limit=1&offset=1');
    expect((await call(t.app, 'GET', '/api/v1/admin/users?bogus=1', { session: admin })).status).toBe(400);
  });

  it('blocking takes effect on the next request, login and refresh', async () => {
    const admin = await createAdmin(t.app);
    const s = await register(t.app);
    const res = await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { blocked: true },
    });
    expect(res.status).toBe(200);
    expect(res.body.blocked).toBe(true);
    const me = await call(t.app, 'GET', '/api/v1/me', { session: s });
    expect(me.status).toBe(403);
    expect(me.body.code).toBe('ACCOUNT_BLOCKED');
    const loginRes = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: PASSWORD },
    });
    expect(loginRes.status).toBe(403);
    expect(loginRes.body.code).toBe('ACCOUNT_BLOCKED');
    const refresh = await call(t.app, 'POST', '/api/v1/auth/refresh', {
      body: { refreshToken: s.refreshToken },
    });
    expect(refresh.status).toBe(403);
    await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { blocked: false },
    });
    expect((await call(t.app, 'GET', '/api/v1/me', { session: s })).status).toBe(200);
  });

  it('a role change applies on the next request', async () => {
    const admin = await createAdmin(t.app);
    const s = await register(t.app);
    expect((await call(t.app, 'GET', '/api/v1/admin/users', { session: s })).status).toBe(403);
    await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { role: 'admin' },
    });
    expect((await call(t.app, 'GET', '/api/v1/admin/users', { session: s })).status).toBe(200);
  });

  it('role artist needs the id of an existing artist', async () => {
    const admin = await createAdmin(t.app);
    const s = await register(t.app);
    const missing = await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { role: 'artist' },
    });
    expect(missing.status).toBe(400);
    const unknown = await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { role: 'artist', artistId: '01900000-0000-7000-8000-000000000000' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('UNKNOWN_ARTIST');
  });

  it('links an artist account and unlinks it with artistId null', async () => {
    const admin = await createAdmin(t.app);
    const s = await register(t.app);
    const artist = await call(t.app, 'POST', '/api/v1/artists', {
      session: admin,
      body: { name: 'Linked Artist' },
    });
    expect(artist.status).toBe(201);
    const linked = await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { role: 'artist', artistId: artist.body.id },
    });
    expect(linked.body).toMatchObject({ role: 'artist', artistId: artist.body.id });
    const unlinked = await call(t.app, 'PATCH', `/api/v1/admin/users/${s.user.id}`, {
      session: admin,
      body: { role: 'user', artistId: null },
    });
    expect(unlinked.status).toBe(200);
    expect(unlinked.body).toMatchObject({ role: 'user', artistId: null });
  });

  it('validates ids and bodies', async () => {
    const admin = await createAdmin(t.app);
    expect(
      (
        await call(t.app, 'PATCH', '/api/v1/admin/users/not-a-uuid', {
          session: admin,
          body: { blocked: true },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call(t.app, 'PATCH', '/api/v1/admin/users/01900000-0000-7000-8000-000000000000', {
          session: admin,
          body: { blocked: true },
        })
      ).status,
    ).toBe(404);
    expect(
      (await call(t.app, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, { session: admin, body: {} }))
        .status,
    ).toBe(400);
    expect(
      (
        await call(t.app, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, {
          session: admin,
          body: { role: 'root' },
        })
      ).status,
    ).toBe(400);
  });

  it('an admin cannot block, demote or delete themself', async () => {
    const admin = await createAdmin(t.app);
    expect(
      (
        await call(t.app, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, {
          session: admin,
          body: { blocked: true },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call(t.app, 'PATCH', `/api/v1/admin/users/${admin.user.id}`, {
          session: admin,
          body: { role: 'user' },
        })
      ).status,
    ).toBe(409);
    expect(
      (await call(t.app, 'DELETE', `/api/v1/admin/users/${admin.user.id}`, { session: admin })).status,
    ).toBe(409);
  });

  it('deleting a user makes their tokens 401', async () => {
    const admin = await createAdmin(t.app);
    const s = await register(t.app);
    expect((await call(t.app, 'DELETE', `/api/v1/admin/users/${s.user.id}`, { session: admin })).status).toBe(
      204,
    );
    expect((await call(t.app, 'GET', '/api/v1/me', { session: s })).status).toBe(401);
    expect((await call(t.app, 'DELETE', `/api/v1/admin/users/${s.user.id}`, { session: admin })).status).toBe(
      404,
    );
  });

  it('ensureAdmin is idempotent', async () => {
    const email = uniqueEmail('boot');
    expect(await t.app.services.identity.ensureAdmin(email, 'admin-password-123')).toBe(true);
    expect(await t.app.services.identity.ensureAdmin(email, 'admin-password-123')).toBe(false);
    const s = await login(t.app, email, 'admin-password-123');
    expect(s.user.role).toBe('admin');
  });

  it('ensureAdmin never promotes an existing non-admin account with that email', async () => {
    const s = await register(t.app);
    await expect(t.app.services.identity.ensureAdmin(s.user.email!, 'admin-password-123')).rejects.toThrow(
      /ADMIN_EMAIL: an account with .* already exists and is not an admin/,
    );
    const me = await call(t.app, 'GET', '/api/v1/me', { session: s });
    expect(me.body.role).toBe('user');
  });
});
