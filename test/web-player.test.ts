import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helpers.js';

/** Serving the built web player next to the API, on a stand-in build. */
let t: TestApp;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backbeat-web-'));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Backbeat</title>');
  writeFileSync(join(dir, 'web', 'index-abc123.js'), 'console.log("player")');
  t = await buildTestApp({}, { webPlayerDir: dir });
});

afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web player', () => {
  it('serves its page at / with a policy that allows HLS and plain-http LAN use', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/?utm_source=share' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<title>Backbeat</title>');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("media-src 'self' blob:");
    expect(csp).not.toContain('upgrade-insecure-requests');
  });

  it('serves hashed assets as immutable', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/web/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('leaves unknown API routes and missing assets to the problem+json 404', async () => {
    for (const url of [
      '/api/v1/no-such-route',
      '/api/v1/albums/x/nothing',
      '/web/missing.js',
      '/index.html',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.json().code, url).toBe('ROUTE_NOT_FOUND');
    }
  });

  it('never serves files outside the build', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/web/../../package.json' });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.body).not.toContain('"dependencies"');
  });

  it('keeps the operational routes and answers 405 for other methods on /', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    const post = await t.app.inject({ method: 'POST', url: '/' });
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toMatch(/GET/);
  });
});
