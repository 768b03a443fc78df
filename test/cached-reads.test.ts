import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlbum, unique } from './factories.js';
import { buildTestApp, call, createAdmin, type Session, type TestApp } from './helpers.js';

// Repeated anonymous album pages are answered before Fastify routes them (platform/cached-reads.ts).
// That happens in the HTTP server, which `app.inject` does not pass through: these tests talk
// to a listening server. With Redis as the cache nothing is replayed (its values are copies), and
// every answer must be the same either way.

interface Served {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers made per request: the request id, the rate limiter's counters, Node's connection handling. */
const PER_REQUEST = [
  'date',
  'connection',
  'keep-alive',
  'x-request-id',
  'ratelimit-remaining',
  'ratelimit-reset',
];

function withoutPerRequest(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_REQUEST.includes(name)));
}

async function listening(env: Record<string, string> = {}) {
  const t = await buildTestApp({ CORS_ORIGINS: 'http://a.example,http://b.example', ...env });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const send = async (url: string, options: { method?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${base}${url}`, { method: options.method ?? 'GET', headers: options.headers });
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: await res.text(),
    } satisfies Served;
  };
  // Replayed only with the in-process cache; the answers must not depend on it.
  const replays = t.app.services.cache.store.kind === 'memory';
  return { t, send, replays, replayed: () => t.app.cachedReads.replayed };
}

describe('repeated anonymous album pages', () => {
  let t: TestApp;
  let admin: Session;
  let send: Awaited<ReturnType<typeof listening>>['send'];
  let replays: boolean;
  let replayed: () => number;

  beforeAll(async () => {
    ({ t, send, replays, replayed } = await listening({ RATE_LIMIT_MAX: '1000' }));
    admin = await createAdmin(t.app);
    await makeAlbum(t.app, admin);
  });
  afterAll(() => t?.close());

  it('carry the same status, headers and body as the first answer, apart from the request id and rate-limit counters', async () => {
    const url = '/api/v1/albums?limit=5';
    const before = replayed();
    const [first, second, third] = [await send(url), await send(url), await send(url)];
    expect(replayed() - before).toBe(replays ? 2 : 0);
    for (const again of [second, third]) {
      expect(again.status).toBe(200);
      expect(again.body).toBe(first.body);
      expect(withoutPerRequest(again.headers)).toEqual(withoutPerRequest(first.headers));
      expect(again.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(again.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    }
    expect(first.headers['cache-control']).toBe('public, max-age=30, must-revalidate');
    expect(first.headers.vary).toBe('Origin, Authorization');
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['content-security-policy']).toContain("default-src 'self'");
    expect(first.headers['content-length']).toBe(String(Buffer.byteLength(first.body)));
    // Each answer is counted by the rate limiter, replayed or not.
    expect(Number(second.headers['ratelimit-remaining'])).toBe(
      Number(first.headers['ratelimit-remaining']) - 1,
    );
    expect(Number(third.headers['ratelimit-remaining'])).toBe(
      Number(second.headers['ratelimit-remaining']) - 1,
    );
    expect(third.headers['ratelimit-limit']).toBe('1000');
    // A caller's safe request id is echoed, replayed or not.
    expect((await send(url, { headers: { 'x-request-id': 'trace-42' } })).headers['x-request-id']).toBe(
      'trace-42',
    );
  });

  it('are answered fresh after a write', async () => {
    const url = '/api/v1/albums?limit=3&sort=-createdAt';
    const first = await send(url);
    await send(url);
    const album = await makeAlbum(t.app, admin, { title: unique('Fresh') });
    const after = await send(url);
    expect(JSON.parse(after.body).items[0].id).toBe(album.id);
    expect(JSON.parse(after.body).total).toBe(JSON.parse(first.body).total + 1);
    expect(after.headers.etag).not.toBe(first.headers.etag);
    const before = replayed();
    expect((await send(url)).body).toBe(after.body);
    expect(replayed() - before).toBe(replays ? 1 : 0);
  });

  it('include anonymous album details, answered fresh once the album changes', async () => {
    const album = await makeAlbum(t.app, admin);
    const url = `/api/v1/albums/${album.id}`;
    const before = replayed();
    const [first, second] = [await send(url), await send(url)];
    expect(replayed() - before).toBe(replays ? 1 : 0);
    expect(second.body).toBe(first.body);
    expect(withoutPerRequest(second.headers)).toEqual(withoutPerRequest(first.headers));
    expect(JSON.parse(first.body)).not.toHaveProperty('followedByMe');
    // A signed-in reader gets their own view (followedByMe), never the recorded one.
    expect(JSON.parse((await send(url, { headers: admin.auth })).body)).toHaveProperty('followedByMe', false);
    const title = unique('Renamed');
    expect((await call(t.app, 'PATCH', url, { session: admin, body: { title } })).status).toBe(200);
    const renamed = await send(url);
    expect(JSON.parse(renamed.body).title).toBe(title);
    expect(renamed.headers.etag).not.toBe(first.headers.etag);
    // Once hidden it is gone for anonymous readers at once.
    await call(t.app, 'PATCH', url, { session: admin, body: { isVisible: false } });
    expect((await send(url)).status).toBe(404);
  });

  it('answer HEAD with the headers of GET and no body', async () => {
    const url = '/api/v1/albums?limit=4';
    const get = await send(url);
    const before = replayed();
    const [head, again] = [await send(url, { method: 'HEAD' }), await send(url, { method: 'HEAD' })];
    expect(replayed() - before).toBe(replays ? 1 : 0);
    for (const res of [head, again]) {
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      expect(withoutPerRequest(res.headers)).toEqual(withoutPerRequest(get.headers));
    }
  });

  it('answer each Origin with its own CORS headers', async () => {
    const url = '/api/v1/albums?limit=6';
    for (const origin of ['http://a.example', 'http://b.example', 'http://a.example']) {
      for (const res of [
        await send(url, { headers: { origin } }),
        await send(url, { headers: { origin } }),
      ]) {
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(res.headers.vary).toBe('Origin, Authorization');
      }
    }
    for (const res of [await send(url), await send(url, { headers: { origin: 'http://evil.example' } })]) {
      expect(res.headers).not.toHaveProperty('access-control-allow-origin');
    }
  });

  it('leave conditional and signed-in requests to the route', async () => {
    const url = '/api/v1/albums?limit=7&visibility=all';
    // Anonymous callers may not ask for hidden albums at all.
    expect((await send(url)).status).toBe(401);
    expect((await send(url)).status).toBe(401);
    const page = '/api/v1/albums?limit=100&sort=-createdAt';
    const anonymous = await send(page);
    await send(page);
    expect(JSON.parse(anonymous.body).items[0]).not.toHaveProperty('isVisible');
    // An admin asking for the same URL gets the admin's view, privately.
    const signedIn = await send(page, { headers: admin.auth });
    expect(signedIn.headers['cache-control']).toBe('private, no-cache');
    expect(JSON.parse(signedIn.body).items[0]).toHaveProperty('isVisible', true);
    const conditional = await send(page, { headers: { 'if-none-match': anonymous.headers.etag! } });
    expect(conditional.status).toBe(304);
    expect(conditional.body).toBe('');
    expect(conditional.headers.etag).toBe(anonymous.headers.etag);
  });

  it('are counted in the request metrics', async () => {
    const url = '/api/v1/albums?limit=8';
    const count = async () => {
      const metrics = (await call(t.app, 'GET', '/metrics')).raw.body;
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('http_requests_total{method="GET",route="/api/v1/albums",status="200"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++) expect((await send(url)).status).toBe(200);
    expect((await count()) - before).toBe(3);
  });
});

describe('the rate limit on repeated anonymous album pages', () => {
  let t: TestApp;
  let send: Awaited<ReturnType<typeof listening>>['send'];

  beforeAll(async () => {
    ({ t, send } = await listening({ RATE_LIMIT_MAX: '3' }));
  });
  afterAll(() => t?.close());

  it('counts every answer and refuses past the limit with a problem', async () => {
    const url = '/api/v1/albums?limit=2';
    const answers = [await send(url), await send(url), await send(url), await send(url)];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    const refused = answers[3]!;
    expect(JSON.parse(refused.body)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await send(url)).status).toBe(429);
  });
});
