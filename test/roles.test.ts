import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_HEADER, gatewayProof } from '../src/platform/gateway-trust.js';
import { buildTestApp, call, deleteNatsStream, TEST_JWT_SECRET, type TestApp } from './helpers.js';

/** A process serving some roles only; its events go over NATS (connected in the background). */
let catalogOnly: TestApp;
const NATS_URL = 'nats://127.0.0.1:4222';
const NATS_STREAM = `bbtest_roles_${randomBytes(4).toString('hex')}`;
beforeAll(async () => {
  catalogOnly = await buildTestApp({ SERVICES: 'catalog', NATS_URL, NATS_STREAM, RATE_LIMIT_MAX: '3' });
});
afterAll(async () => {
  await catalogOnly.close();
  await deleteNatsStream(NATS_URL, NATS_STREAM);
});

describe('SERVICES picks the routes a process mounts', () => {
  it('serves its own roles and answers 404 problem+json for the others', async () => {
    expect((await call(catalogOnly.app, 'GET', '/api/v1/albums')).status).toBe(200);
    const identity = await call(catalogOnly.app, 'GET', '/api/v1/me');
    expect(identity.status).toBe(404);
    expect(identity.body.code).toBe('ROUTE_NOT_FOUND');
    expect((await call(catalogOnly.app, 'GET', '/api/v1/stats/genres')).status).toBe(404);
  });

  it('lists its roles in /health/ready', async () => {
    const ready = await call(catalogOnly.app, 'GET', '/health/ready');
    expect(ready.body.roles).toEqual(['catalog']);
  });
});

describe('requests through the gateway', () => {
  const proof = { [GATEWAY_HEADER]: gatewayProof(TEST_JWT_SECRET) };

  it('are rate limited once, by the gateway, and others by the service', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await call(catalogOnly.app, 'GET', '/api/v1/albums', { headers: proof })).status).toBe(200);
    }
    const forged = { [GATEWAY_HEADER]: gatewayProof('some-other-secret-that-is-long-enough-000') };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await call(catalogOnly.app, 'GET', '/api/v1/albums', { headers: forged })).status);
    }
    expect(statuses).toContain(429);
  });
});
