import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { buildGateway } from '../src/gateway/gateway.js';
import { type HealthCheck, healthRoutes } from '../src/platform/health.js';
import { call, TEST_JWT_SECRET } from './helpers.js';

const ok: HealthCheck = async () => {};
const failing: HealthCheck = async () => {
  throw new Error('down');
};

async function readiness(opts: Parameters<typeof healthRoutes>[1]) {
  const app = Fastify();
  await app.register(healthRoutes, opts);
  const res = await call(app, 'GET', '/health/ready');
  await app.close();
  return res;
}

describe('/health/ready', () => {
  it('answers 200 "ok" only when every check passes', async () => {
    const res = await readiness({ roles: ['catalog'], checks: { database: ok }, degradable: { cache: ok } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ok',
      roles: ['catalog'],
      checks: { database: 'ok', cache: 'ok' },
      serving: true,
    });
  });

  it('answers 503 "degraded" naming a failing cache, and says the process still serves', async () => {
    const res = await readiness({
      roles: ['catalog'],
      checks: { database: ok },
      degradable: { cache: failing },
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      status: 'degraded',
      checks: { database: 'ok', cache: 'error' },
      serving: true,
    });
  });

  it('answers 503 "degraded", not serving, when the database fails or the process shuts down', async () => {
    const down = await readiness({
      roles: ['catalog'],
      checks: { database: failing },
      degradable: { cache: ok },
    });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'degraded', checks: { database: 'error' }, serving: false });
    const draining = await readiness({ roles: ['catalog'], checks: { database: ok }, draining: () => true });
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ status: 'degraded', checks: { database: 'ok' }, serving: false });
  });
});

describe('the gateway and a degraded process', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  /** A stand-in process whose readiness says `serving`, answering every other path with its name. */
  async function upstream(name: string, serving: boolean): Promise<string> {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/health/ready') {
        res.statusCode = 503;
        res.end(
          JSON.stringify({
            status: 'degraded',
            roles: ['catalog'],
            checks: { database: serving ? 'ok' : 'error', cache: 'error' },
            serving,
          }),
        );
      } else res.end(JSON.stringify({ name }));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('keeps routing to a process whose 503 says it still serves, and not to one that does not', async () => {
    const [serving, broken] = await Promise.all([upstream('serving', true), upstream('broken', false)]);
    const g: FastifyInstance = await buildGateway(
      loadConfig({
        NODE_ENV: 'test',
        SERVICES: 'gateway',
        GATEWAY_UPSTREAMS: `catalog=${serving} ${broken}`,
        JWT_SECRET: TEST_JWT_SECRET,
      }),
    );
    await g.ready();
    try {
      const status = async () => (await call(g, 'GET', '/health/services')).body.services.catalog;
      const deadline = Date.now() + 15_000;
      while ((await status()).find((u: { url: string }) => u.url === serving).status !== 'ok') {
        if (Date.now() > deadline) throw new Error('the gateway never found the serving process ready');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await status()).find((u: { url: string }) => u.url === broken).status).toBe('down');
      const names = [];
      for (let i = 0; i < 4; i++) names.push((await call(g, 'GET', '/api/v1/albums')).body.name);
      expect(names).toEqual(['serving', 'serving', 'serving', 'serving']);
    } finally {
      await g.close();
    }
  });
});
