import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildGateway } from '../src/gateway/gateway.js';
import { createRoleRouter, GATEWAY_ROUTES } from '../src/gateway/routes.js';
import { createCacheStore } from '../src/platform/cache.js';
import { LocalEventBus } from '../src/platform/events.js';
import { GATEWAY_HEADER, gatewayProof, LIVE_TAG_HEADER, liveTag } from '../src/platform/gateway-trust.js';
import { MODULE_ROLES } from '../src/roles.js';
import { makeAlbum } from './factories.js';
import { buildTestApp, call, createAdmin, TEST_JWT_SECRET, type TestApp } from './helpers.js';

/**
 * The gateway in front of two real processes. Each has its own copy of the database, so which
 * one answered shows in the data: an album made on `a` only.
 */
let a: TestApp;
let b: TestApp;
let urlA: string;
let urlB: string;
let albumOnA: { id: string };

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/** A port nothing listens on. */
function deadUrl(): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

/** Until the gateway has found every process ready (its first checks may be slow on a busy machine). */
async function allReady(g: FastifyInstance): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await call(g, 'GET', '/health/services')).status !== 200) {
    if (Date.now() > deadline) throw new Error('the gateway found no ready process');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function gateway(upstreams: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildGateway(
    loadConfig({
      NODE_ENV: 'test',
      SERVICES: 'gateway',
      GATEWAY_UPSTREAMS: upstreams,
      JWT_SECRET: TEST_JWT_SECRET,
      ...env,
    }),
  );
  await app.ready();
  return app;
}

beforeAll(async () => {
  [a, b] = await Promise.all([buildTestApp(), buildTestApp()]);
  [urlA, urlB] = await Promise.all([listen(a.app), listen(b.app)]);
  albumOnA = await makeAlbum(a.app, await createAdmin(a.app));
});
afterAll(async () => {
  await a.close();
  await b.close();
});

describe('gateway routing', () => {
  it('sends each request to the next ready process, round robin, and passes the request id', async () => {
    const g = await gateway(`catalog=${urlA} ${urlB}`);
    await allReady(g);
    const totals = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(g, 'GET', '/api/v1/albums', { headers: { 'x-request-id': `rr-${i}` } });
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe(`rr-${i}`);
      totals.push(res.body.total);
    }
    expect(totals.sort()).toEqual([0, 0, 1, 1]);
    await g.close();
  });

  it('sends the API root, GET /api/v1, to the identity role', async () => {
    const g = await gateway(`identity=${urlA},catalog=${urlB}`);
    await allReady(g);
    const res = await call(g, 'GET', '/api/v1');
    expect(res.status).toBe(200);
    expect(res.body.links).toMatchObject({ openapi: '/openapi.json', albums: '/api/v1/albums' });
    await g.close();
  });

  it('answers for a role without a ready process with 503, and reports it in /health/services', async () => {
    const dead = await deadUrl();
    const g = await gateway(`catalog=${urlA},identity=${dead}`);
    const catalogReady = async () =>
      (await call(g, 'GET', '/health/services')).body.services.catalog[0].status;
    for (let i = 0; i < 150 && (await catalogReady()) !== 'ok'; i++)
      await new Promise((r) => setTimeout(r, 100));
    const me = await call(g, 'GET', '/api/v1/me');
    expect(me.status).toBe(503);
    expect(me.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(me.headers['content-type']).toMatch(/^application\/problem\+json/);
    const health = await call(g, 'GET', '/health/services');
    expect(health.status).toBe(503);
    expect(health.body.status).toBe('degraded');
    expect(health.body.services.catalog).toEqual([
      { url: urlA, status: 'ok', latencyMs: expect.any(Number) },
    ]);
    expect(health.body.services.identity).toEqual([{ url: dead, status: 'down', latencyMs: null }]);
    expect((await call(g, 'GET', '/health/ready')).body.roles).toEqual(['gateway']);
    await g.close();
  });

  it('answers unknown paths and roles nobody serves with problem+json 404', async () => {
    const g = await gateway(`catalog=${urlA}`);
    await allReady(g);
    const unknown = await call(g, 'GET', '/api/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('ROUTE_NOT_FOUND');
    expect((await call(g, 'GET', '/rest/ping.view')).status).toBe(404);
    expect((await call(g, 'GET', '/elsewhere')).body.code).toBe('ROUTE_NOT_FOUND');
    await g.close();
  });

  it('retries an idempotent request once on another process when the first is gone', async () => {
    const extra = await buildTestApp();
    const urlExtra = await listen(extra.app);
    const g = await gateway(`catalog=${urlExtra} ${urlB}`);
    await allReady(g);
    // Gone between two readiness checks: the gateway still believes it is ready.
    await extra.close();
    for (let i = 0; i < 4; i++) expect((await call(g, 'GET', '/api/v1/albums')).status).toBe(200);
    const health = await call(g, 'GET', '/health/services');
    expect(health.body.services.catalog.map((u: { status: string }) => u.status)).toEqual(['down', 'ok']);
    await g.close();
  });

  it('retries an idempotent request on another process when the first dies under it, and not a POST', async () => {
    // A process that accepts the connection and dies before answering (killed mid-request).
    const { createServer: createHttpServer } = await import('node:http');
    let died = 0;
    const dying = createHttpServer((req, res) => {
      if (req.url === '/health/ready') return res.end('{}');
      died++;
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    const urlDying = `http://127.0.0.1:${(dying.address() as { port: number }).port}`;
    const g = await gateway(`catalog=${urlDying} ${urlB}`);
    await allReady(g);
    // Round robin sends the first request to the dying process: it is answered by the other.
    const read = await call(g, 'GET', '/api/v1/albums');
    expect([read.status, died]).toEqual([200, 1]);
    // The dying process is out of rotation until a check finds it ready, which the next one does.
    const bothReady = async () =>
      (await call(g, 'GET', '/health/services')).body.services.catalog.every(
        (u: { status: string }) => u.status === 'ok',
      );
    for (let i = 0; i < 150 && !(await bothReady()); i++) await new Promise((r) => setTimeout(r, 100));
    // A POST that reached a process may have done its work there: never sent twice.
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await call(g, 'POST', '/api/v1/albums', { body: { title: 'x' } })).status);
    }
    expect(died).toBe(2);
    expect(statuses).toContain(502);
    await g.close();
    await new Promise<void>((resolve) => dying.close(() => resolve()));
  });

  it('forwards bodies and enforces the rate limit itself, once', async () => {
    const g = await gateway(`identity=${urlA},catalog=${urlA}`, { RATE_LIMIT_MAX: '3' });
    await allReady(g);
    const registered = await call(g, 'POST', '/api/v1/auth/register', {
      body: { email: 'through-gateway@example.test', password: 'correct-horse-battery', displayName: 'G' },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.user.email).toBe('through-gateway@example.test');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(g, 'GET', `/api/v1/albums/${albumOnA.id}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Media files and Subsonic's cover art and streams are not counted, there as here.
    for (const url of ['/media/images/nope-300.jpg', '/rest/getCoverArt?id=x', '/rest/stream.view?id=x']) {
      const res = await call(g, 'GET', url);
      expect(res.status, url).not.toBe(429);
      expect(res.headers['ratelimit-limit'], url).toBeUndefined();
    }
    expect((await call(g, 'GET', '/rest/ping')).status).toBe(429);
    await g.close();
  });
});

describe('gateway: forwarding headers', () => {
  /** An upstream that answers every request with the headers it received. */
  let echo: import('node:http').Server;
  let echoUrl: string;
  beforeAll(async () => {
    const { createServer: createHttpServer } = await import('node:http');
    echo = createHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/health/ready' ? { status: 'ok' } : req.headers));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  const forged = {
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '8443',
    forwarded: 'for=6.6.6.6',
    [GATEWAY_HEADER]: 'forged-proof',
    'x-request-id': 'fwd-1',
  };

  it("drops the client's X-Forwarded-* and sets its own, with its proof and the request id", async () => {
    const g = await gateway(`catalog=${echoUrl}`);
    await allReady(g);
    const res = await g.inject({
      method: 'GET',
      url: '/api/v1/albums',
      headers: { ...forged, host: 'music.example.test' },
      remoteAddress: '203.0.113.5',
    });
    expect(res.statusCode).toBe(200);
    const seen = res.json();
    expect(seen).toMatchObject({
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'music.example.test',
      [GATEWAY_HEADER]: gatewayProof(TEST_JWT_SECRET),
      'x-request-id': 'fwd-1',
    });
    expect(seen).not.toHaveProperty('forwarded');
    expect(seen).not.toHaveProperty('x-forwarded-port');
    await g.close();
  });

  it('passes every path of the route table to its role', async () => {
    const roles = new Set(GATEWAY_ROUTES.map(([, role]) => role));
    const g = await gateway([...roles].map((role) => `${role}=${echoUrl}`).join(','));
    await allReady(g);
    for (const [pattern] of GATEWAY_ROUTES) {
      // socket.io has a route of its own (WebSocket upgrades; see the live tests).
      if (pattern.startsWith('/socket.io')) continue;
      const url = pattern.replace(/:\w+/g, 'x1').replace(/\*$/, 'x2');
      const res = await g.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      expect(res.json()).toHaveProperty(GATEWAY_HEADER);
    }
    await g.close();
  });

  it('names the client a trusted load balancer in front of it names (TRUST_PROXY)', async () => {
    const g = await gateway(`catalog=${echoUrl}`, { TRUST_PROXY: '10.0.0.1' });
    await allReady(g);
    const seen = async (remoteAddress: string) =>
      (
        await g.inject({
          method: 'GET',
          url: '/api/v1/albums',
          headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.9', 'x-forwarded-proto': 'https' },
          remoteAddress,
        })
      ).json();
    expect(await seen('10.0.0.1')).toMatchObject({
      'x-forwarded-for': '198.51.100.9',
      'x-forwarded-proto': 'https',
    });
    // Anyone else is the client, whatever it claims.
    expect(await seen('203.0.113.5')).toMatchObject({
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'http',
    });
    await g.close();
  });
});

describe('gateway: limits only the service can judge', () => {
  // A process with a small credential budget: 2 password checks or failed sign-ins per client.
  let strict: TestApp;
  let g: FastifyInstance;
  beforeAll(async () => {
    strict = await buildTestApp({ RATE_LIMIT_AUTH_MAX: '2' });
    const url = await listen(strict.app);
    g = await gateway(`identity=${url},subsonic=${url}`);
    await allReady(g);
  });
  afterAll(async () => {
    await g.close();
    await strict.close();
  });

  /** A Subsonic sign-in with a wrong password, from a client at `address`, through the gateway. */
  const failedSubsonicLogin = (address: string) =>
    g.inject({
      method: 'GET',
      url: '/rest/ping.view?u=nobody&p=wrong-password&v=1.16.1&c=test&f=json',
      remoteAddress: address,
    });

  it('counts Subsonic failed sign-ins per client behind the gateway', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await failedSubsonicLogin('203.0.113.7')).statusCode);
    expect(statuses).toEqual([200, 200, 429]);
    // Another client behind the same gateway has its own budget.
    const other = await failedSubsonicLogin('203.0.113.8');
    expect(other.statusCode).toBe(200);
    expect(other.json()['subsonic-response'].error.code).toBe(40);
  });

  it('counts password checks per account behind the gateway', async () => {
    const registered = await call(g, 'POST', '/api/v1/auth/register', {
      body: { email: 'checks@example.test', password: 'correct-horse-battery', displayName: 'C' },
    });
    expect(registered.status).toBe(201);
    const auth = { authorization: `Bearer ${registered.body.accessToken}` };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(g, 'PATCH', '/api/v1/me', {
        headers: auth,
        body: { currentPassword: `guess-${i}-wrong`, newPassword: 'another-horse-battery' },
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 2)).not.toContain(429);
    expect(statuses[2]).toBe(429);
  });
});

describe('gateway: socket.io to the live role', () => {
  /** A long-polling handshake through the gateway: the engine.io session id it opened. */
  async function handshake(via: FastifyInstance): Promise<string> {
    const res = await via.inject({ method: 'GET', url: '/socket.io/?EIO=4&transport=polling' });
    expect(res.statusCode).toBe(200);
    return JSON.parse(res.body.slice(1)).sid;
  }
  /** The same, sent straight to a process over HTTP (socket.io listens on the server, not in inject). */
  async function handshakeAt(url: string, headers: Record<string, string>): Promise<string> {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
    expect(res.status).toBe(200);
    return JSON.parse((await res.text()).slice(1)).sid;
  }
  /** One long-polling POST of a session: only the process that holds the session answers `ok`. */
  const post = (via: FastifyInstance, sid: string) =>
    via.inject({
      method: 'POST',
      url: `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      payload: '3', // a pong: harmless at any time
    });

  it('keeps each long-polling session on the process that opened it, round robin between sessions', async () => {
    const g = await gateway(`live=${urlA} ${urlB}`);
    await allReady(g);
    const sids = [await handshake(g), await handshake(g)];
    const tags = sids.map((sid) => sid.split('.', 1)[0]);
    expect(tags.sort()).toEqual([liveTag(urlA), liveTag(urlB)].sort());
    for (let i = 0; i < 4; i++) {
      for (const sid of sids) {
        const res = await post(g, sid);
        expect([res.statusCode, res.body]).toEqual([200, 'ok']);
      }
    }
    // A session id with no tag of this gateway goes round robin, and the process says it does not know it.
    expect((await post(g, 'ffffffff.unknown')).statusCode).toBe(400);
    await g.close();
  });

  it('tags session ids only for requests that carry the gateway proof', async () => {
    const direct = await handshakeAt(urlA, { [LIVE_TAG_HEADER]: 'abcdef12' });
    expect(direct).not.toContain('.');
    const proven = await handshakeAt(urlA, {
      [LIVE_TAG_HEADER]: 'abcdef12',
      [GATEWAY_HEADER]: gatewayProof(TEST_JWT_SECRET),
    });
    expect(proven).toMatch(/^abcdef12\./);
  });

  it('answers 503 problem+json when no live process is ready', async () => {
    // Down until a readiness check finds it ready, which never happens.
    const g = await gateway(`live=${await deadUrl()}`);
    const res = await call(g, 'GET', '/socket.io/?EIO=4&transport=polling');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SERVICE_UNAVAILABLE');
    await g.close();
  });
});

describe('gateway route table', () => {
  it('sends every route a role mounts to that role', async () => {
    const roleFor = createRoleRouter(GATEWAY_ROUTES);
    // The API root (GET /api/v1, mounted by every role with API routes) goes to one of them.
    expect(roleFor('/api/v1')).toBe('identity');
    for (const role of MODULE_ROLES) {
      const config = { ...loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET }) };
      const app = await buildApp(
        { ...config, services: { kind: 'roles', roles: new Set([role]) } },
        { database: a.database, cacheStore: createCacheStore(undefined), eventBus: new LocalEventBus() },
      );
      await app.ready();
      const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths);
      await app.close();
      const apiPaths = paths.filter((path) => path.startsWith('/api/v1/'));
      // Subsonic's /rest routes are hidden from the document (it is not a JSON API).
      if (role === 'subsonic') expect(roleFor('/rest/ping.view')).toBe('subsonic');
      else expect(apiPaths.length).toBeGreaterThan(0);
      for (const path of apiPaths) {
        expect({ path, role: roleFor(path.replace(/\{[^}]+\}/g, 'x1')) }).toEqual({ path, role });
      }
    }
  });
});
