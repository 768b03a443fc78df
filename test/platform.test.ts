import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlbum } from './factories.js';
import { buildTestApp, call, createAdmin, register, type TestApp } from './helpers.js';

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

  it('400 for a URL path that is not valid percent-encoding, with the usual headers', async () => {
    const res = await call(t.app, 'GET', '/api/v1/albums/%ff%fe', {
      headers: { 'x-request-id': 'bad-url-1' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, code: 'MALFORMED_URL', requestId: 'bad-url-1' });
    expect(res.headers['x-request-id']).toBe('bad-url-1');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['ratelimit-limit']).toBeDefined();
    expect(JSON.stringify(res.body)).not.toContain('FST_');
  });

  it('414 for a path segment over 200 characters, with the usual headers', async () => {
    const res = await call(t.app, 'GET', `/api/v1/albums/${'a'.repeat(201)}`, {
      headers: { 'x-request-id': 'long-segment-1' },
    });
    expect(res.status).toBe(414);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 414, code: 'URI_TOO_LONG', requestId: 'long-segment-1' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // 200 characters is still a path parameter: the id is checked, not the length.
    const fits = await call(t.app, 'GET', `/api/v1/albums/${'a'.repeat(200)}`);
    expect(fits.status).toBe(400);
    expect(fits.body.code).toBe('VALIDATION_FAILED');
  });

  it('405 with Allow for a known path and a wrong method', async () => {
    const res = await call(t.app, 'PUT', '/api/v1/me');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, PATCH');
    expect(res.body.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('405 before the query or body of a wrong-method request are looked at', async () => {
    const cases = [
      call(t.app, 'GET', '/api/v1/playlists?limit=1'),
      call(t.app, 'DELETE', '/api/v1/albums?bogus=1'),
      call(t.app, 'PUT', '/api/v1/albums', {
        body: '{broken',
        headers: { 'content-type': 'application/json' },
      }),
      call(t.app, 'PUT', '/api/v1/albums', { body: 'x', headers: { 'content-type': 'text/plain' } }),
    ];
    for (const res of await Promise.all(cases)) {
      expect(res.status).toBe(405);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBeDefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('415 for a body that is not JSON', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: 'email=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('415 for a text/plain body, even one holding JSON', async () => {
    const res = await call(t.app, 'POST', '/api/v1/auth/login', {
      body: JSON.stringify({ email: 'a@b.c', password: 'whatever1' }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
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

  it('400 for body fields sent to a route that takes no body; none, null or {} still pass', async () => {
    const admin = await createAdmin(t.app);
    const album = await makeAlbum(t.app, admin);
    const s = await register(t.app);
    const follow = (body?: unknown) =>
      call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, { session: s, body });
    const json = (payload: string) =>
      call(t.app, 'PUT', `/api/v1/me/following/albums/${album.id}`, {
        session: s,
        body: payload,
        headers: { 'content-type': 'application/json' },
      });
    for (const res of [await follow({ x: 1 }), await follow([1]), await json('"text"'), await json('7')]) {
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const following = await call(t.app, 'GET', '/api/v1/me/following/albums', { session: s });
    expect(following.body.items).toEqual([]);
    for (const res of [await follow(), await json('null'), await follow({})]) expect(res.status).toBe(204);
    expect(
      (await call(t.app, 'DELETE', `/api/v1/me/following/albums/${album.id}`, { session: s, body: {} }))
        .status,
    ).toBe(204);
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

  it('keeps Vary: Origin on cacheable reads that also vary on Authorization', async () => {
    for (const url of ['/api/v1/albums', '/api/v1/artists', '/api/v1/songs']) {
      const res = await call(t.app, 'GET', url, { headers: { origin: 'https://app.example.test' } });
      expect(res.status, url).toBe(200);
      expect(res.headers['cache-control'], url).toMatch(/public/);
      const vary = String(res.headers.vary)
        .toLowerCase()
        .split(/\s*,\s*/);
      expect(vary, url).toEqual(expect.arrayContaining(['origin', 'authorization']));
    }
  });
});

describe('operations endpoints', () => {
  it('/health and /health/ready', async () => {
    expect((await call(t.app, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await call(t.app, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ok',
      roles: ['identity', 'catalog', 'library', 'discovery', 'media', 'subsonic', 'live', 'worker'],
      checks: { database: 'ok', cache: 'ok' },
      serving: true,
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

describe('request bodies', () => {
  it('rejects unauthenticated writes before reading their body', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/playlists',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "never parsed", broken',
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHORIZED');
    const badToken = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/me',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not.a.token' },
      payload: '{ broken',
    });
    expect(badToken.statusCode).toBe(401);
    // A signed-in caller's malformed body is still reported as such.
    const s = await register(t.app);
    const mine = await t.app.inject({
      method: 'POST',
      url: '/api/v1/playlists',
      headers: { 'content-type': 'application/json', ...s.auth },
      payload: '{ broken',
    });
    expect(mine.statusCode).toBe(400);
    expect(mine.json().code).toBe('INVALID_JSON');
  });

  it('refuses JSON nested deeper than 32 levels with 400 JSON_TOO_DEEP', async () => {
    const s = await register(t.app);
    const post = (description: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/playlists',
        headers: { 'content-type': 'application/json', ...s.auth },
        payload: `{"name": "deep", "description": ${description}}`,
      });
    const deep = await post(`${'['.repeat(5000)}${']'.repeat(5000)}`);
    expect(deep.statusCode).toBe(400);
    expect(deep.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(deep.json().code).toBe('JSON_TOO_DEEP');
    // Brackets inside strings are text, not nesting.
    const text = await post(JSON.stringify('['.repeat(200)));
    expect(text.statusCode).toBe(201);
  });
});

describe('slow request bodies', () => {
  /** Sends a request's head and then `chunks` of its body `gapMs` apart; resolves with the raw answer. */
  function slowRequest(port: number, body: string, chunks: number, gapMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (data) => (answer += data));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
      socket.write(
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
      );
      const size = Math.ceil(body.length / chunks);
      for (let i = 0; i < chunks; i++) {
        setTimeout(() => socket.write(body.slice(i * size, (i + 1) * size)), i * gapMs);
      }
    });
  }

  it('ends a request whose body stalls with 408, but not one whose body keeps coming', async () => {
    const own = await buildTestApp({ BODY_TIMEOUT: '1500ms' });
    try {
      await own.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = own.app.server.address() as { port: number };
      const body = JSON.stringify({ email: 'nobody@example.test', password: 'not-the-password' });
      // Half the body, then nothing: answered 408 and closed, not held open.
      const stalled = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (data) => (answer += data));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
        socket.write(
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
        );
      });
      expect(stalled).toMatch(/^HTTP\/1\.1 408 /);
      expect(stalled).toMatch(/"code":"REQUEST_TIMEOUT"/);
      // Longer than the timeout in all, but never pausing that long: it is read and answered.
      const steady = await slowRequest(port, body, 8, 300);
      expect(steady).toMatch(/^HTTP\/1\.1 401 /);
      // A body refused unread (413 on its declared length) leaves no timeout behind to fire later.
      const refused = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `"${'x'.repeat(1_100_000)}"`,
      });
      expect(refused.status).toBe(413);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await own.close();
    }
  }, 60_000);
});

describe('metrics access', () => {
  const token = 'metrics-token-0123456789abcdef';

  it('needs the METRICS_TOKEN bearer token when one is set', async () => {
    const own = await buildTestApp({ METRICS_TOKEN: token });
    try {
      const anonymous = await call(own.app, 'GET', '/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer');
      expect(anonymous.headers['content-type']).toMatch(/application\/problem\+json/);
      const wrong = await call(own.app, 'GET', '/metrics', { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const right = await call(own.app, 'GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect(right.body).toMatch(/http_requests_total/);
    } finally {
      await own.close();
    }
  }, 60_000);

  it('is not served in production without a token', async () => {
    const production = { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.test' };
    const closed = await buildTestApp(production);
    try {
      expect((await call(closed.app, 'GET', '/metrics')).status).toBe(404);
    } finally {
      await closed.close();
    }
    const open = await buildTestApp({ ...production, METRICS_TOKEN: token });
    try {
      const res = await call(open.app, 'GET', '/metrics', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    } finally {
      await open.close();
    }
  }, 60_000);
});

describe('readiness reports a failing dependency', () => {
  it('answers 503 degraded when the database is gone', async () => {
    const broken = await buildTestApp();
    await broken.database.close();
    const res = await call(broken.app, 'GET', '/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      status: 'degraded',
      checks: { database: 'error', cache: 'ok' },
      serving: false,
    });
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

  it('counts unknown routes and malformed URLs against the client like any route', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '2' });
    try {
      const first = await call(limited.app, 'GET', '/api/v1/no-such-route');
      expect(first.status).toBe(404);
      expect(first.headers['ratelimit-limit']).toBe('2');
      expect(first.headers['ratelimit-remaining']).toBe('1');
      expect((await call(limited.app, 'GET', '/api/v1/albums/%ff')).status).toBe(400);
      const third = await call(limited.app, 'GET', '/api/v1/another-unknown-route');
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await limited.close();
    }
  });

  it("does not count media files or Subsonic's cover art and streams, and counts other Subsonic calls", async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '2' });
    try {
      const media = [
        ['GET', '/rest/getCoverArt?id=al-1&size=300'],
        ['GET', '/rest/getCoverArt.view?id=al-1'],
        ['POST', '/rest/stream'],
        ['GET', '/rest/stream.view?id=1&maxBitRate=128'],
        ['GET', '/rest/download?id=1'],
        ['GET', '/media/images/nope-300.jpg'],
        ['GET', `/media/audio/${'0'.repeat(64)}/original.mp3`],
      ] as const;
      for (const [method, url] of [...media, ...media]) {
        const res = await limited.app.inject({ method, url });
        expect(res.statusCode, `${method} ${url}`).not.toBe(429);
        expect(res.headers['ratelimit-limit'], `${method} ${url}`).toBeUndefined();
      }
      // Look-alikes count: other methods, other spellings, and paths merely starting alike.
      const counted = ['/rest/streamX', '/rest/getCoverArtist', '/rest/ping'];
      const statuses = [];
      for (const url of counted) statuses.push((await limited.app.inject({ method: 'GET', url })).statusCode);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  it('gives all /auth/* routes one shared budget per client', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_AUTH_MAX: '2' });
    try {
      const body = { email: 'x@y.z', password: 'whatever1' };
      expect((await call(limited.app, 'POST', '/api/v1/auth/login', { body })).status).toBe(401);
      const refresh = await call(limited.app, 'POST', '/api/v1/auth/refresh', {
        body: { refreshToken: 'nope' },
      });
      expect(refresh.status).toBe(401);
      expect(refresh.headers['ratelimit-remaining']).toBe('0');
      const register = await call(limited.app, 'POST', '/api/v1/auth/register', {
        body: { ...body, displayName: 'X' },
      });
      expect(register.status).toBe(429);
      expect(register.headers['cache-control']).toBe('no-store');
    } finally {
      await limited.close();
    }
  });
});

describe('TRUST_PROXY', () => {
  /** One request to a rate-limited route from `remoteAddress`, forwarded for `forwardedFor`. */
  const from = (app: TestApp['app'], remoteAddress: string, forwardedFor?: string) =>
    app.inject({
      url: '/api/v1/albums',
      remoteAddress,
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    });

  it('is off by default: X-Forwarded-For is ignored, so forged addresses share one bucket', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '1' });
    try {
      expect((await from(limited.app, '10.0.0.2', '203.0.113.1')).statusCode).toBe(200);
      expect((await from(limited.app, '10.0.0.2', '203.0.113.2')).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('with a hop count, limits each client behind the proxy on its own', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' });
    try {
      expect((await from(limited.app, '10.0.0.2', '203.0.113.1')).statusCode).toBe(200);
      expect((await from(limited.app, '10.0.0.2', '203.0.113.2')).statusCode).toBe(200);
      expect((await from(limited.app, '10.0.0.2', '198.51.100.9, 203.0.113.1')).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('with a CIDR list, believes only the listed proxies', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '10.0.0.0/8, ::1' });
    try {
      expect((await from(limited.app, '10.0.0.2', '203.0.113.1')).statusCode).toBe(200);
      expect((await from(limited.app, '10.9.9.9', '203.0.113.2')).statusCode).toBe(200);
      // A client outside the list cannot pick a fresh bucket by forging the header.
      expect((await from(limited.app, '192.0.2.7', '203.0.113.3')).statusCode).toBe(200);
      expect((await from(limited.app, '192.0.2.7', '203.0.113.4')).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
