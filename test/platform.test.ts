import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, call, register, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ CORS_ORIGINS: 'https://app.example.test' });
});
afterAll(() => t.close());

describe('errors are problem+json everywhere', () => {
  it('404 for an unknown route', async () => {
    const res = await call(t.app, 'GET', '/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: '/problems/route-not-found',
      title: 'Not found',
      status: 404,
      code: 'ROUTE_NOT_FOUND',
    });
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('405 with Allow for a known path and a wrong method', async () => {
    const res = await call(t.app, 'PUT', '/api/v1/me');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, PATCH');
    expect(res.body.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: 'email=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('400 for malformed JSON, without parser internals', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: '{"email": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_JSON');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js|SyntaxError/);
  });

  it('413 for a body over the limit', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(1_100_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('400 for an unknown query parameter, also on routes that take none', async () => {
    const s = await register(t.app);
    const res = await call(t.app, 'GET', '/api/v1/me?debug=1', { session: s });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: '/debug', message: 'is not allowed' }]);
    expect((await call(t.app, 'GET', '/health?verbose=true')).status).toBe(400);
  });

  it('400 for a JSON value of the wrong type: bodies are not coerced', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: 'typed@example.test', password: 12345678, displayName: 'Typed' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: '/password', message: 'must be string' }]);
  });

  it('400 for text the database cannot store, never a 500', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/register', {
      body: { email: 'nul@example.test', password: 'long-enough-1', displayName: 'a\u0000b' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_INPUT');
    expect(JSON.stringify(res.body)).not.toMatch(/0x00|invalid byte|SQL/i);
  });

  it('400 for a body that is not an object', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', { body: [1, 2] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });
});

describe('request ids', () => {
  it('echoes a safe X-Request-Id', async () => {
    const res = await call(t.app, 'GET', '/health', { headers: { 'x-request-id': 'client-abc.123' } });
    expect(res.headers['x-request-id']).toBe('client-abc.123');
  });

  it('replaces an unsafe one with a generated id', async () => {
    const res = await call(t.app, 'GET', '/health', { headers: { 'x-request-id': 'evil\nline' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('security headers and CORS', () => {
  it('sets helmet headers and no x-powered-by', async () => {
    const res = await call(t.app, 'GET', '/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('allows only the configured origins', async () => {
    const allowed = await call(t.app, 'OPTIONS', '/api/v1/me', {
      headers: { origin: 'https://app.example.test', 'access-control-request-method': 'PATCH' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.test');
    const denied = await call(t.app, 'GET', '/health', { headers: { origin: 'https://evil.example.test' } });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('operations endpoints', () => {
  it('/health and /health/ready', async () => {
    expect((await call(t.app, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await call(t.app, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ok',
      roles: ['identity', 'catalog', 'library', 'discovery', 'worker'],
      checks: { database: 'ok', cache: 'ok' },
    });
  });

  it('/metrics counts requests by route template and status', async () => {
    const s = await register(t.app);
    await call(t.app, 'GET', '/api/v1/me', { session: s });
    const res = await call(t.app, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/http_requests_total\{method="GET",route="\/api\/v1\/me",status="200"\} [1-9]/);
    expect(res.body).toMatch(
      /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/me"/,
    );
  });

  it('/openapi.json describes the API with its security scheme', async () => {
    const res = await call(t.app, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.paths['/api/v1/auth/register'].post.responses['201']).toBeDefined();
    expect(res.body.components.securitySchemes.bearerAuth.scheme).toBe('bearer');
  });

  it('/docs serves the interactive reference', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/swagger/i);
  });
});

describe('readiness reports a failing dependency', () => {
  it('answers 503 degraded when the database is gone', async () => {
    const broken = await buildTestApp();
    await broken.database.close();
    const res = await call(broken.app, 'GET', '/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'degraded', checks: { database: 'error', cache: 'ok' } });
    await broken.app.close();
  });
});

describe('rate limits', () => {
  it('limits /auth/* more strictly, with RateLimit-* and Retry-After headers', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '50', RATE_LIMIT_AUTH_MAX: '2' });
    try {
      const attempt = () =>
        call(limited.app, 'POST', '/api/v1/auth/login', { body: { email: 'x@y.z', password: 'whatever1' } });
      const first = await attempt();
      expect(first.status).toBe(401);
      expect(first.headers['ratelimit-limit']).toBe('2');
      expect(first.headers['ratelimit-remaining']).toBe('1');
      expect(first.headers['ratelimit-reset']).toBeDefined();
      await attempt();
      const third = await attempt();
      expect(third.status).toBe(429);
      expect(third.headers['retry-after']).toMatch(/^[0-9]+$/);
      expect(third.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      // Other routes keep their own, larger budget.
      const me = await call(limited.app, 'GET', '/api/v1/me');
      expect(me.status).toBe(401);
      expect(me.headers['ratelimit-limit']).toBe('50');
    } finally {
      await limited.close();
    }
  });
});
