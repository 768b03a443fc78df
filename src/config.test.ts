import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration } from './config.js';

const SECRET = 'a-production-secret-of-at-least-32-bytes!';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      dataDir: './data',
      databaseUrl: undefined,
      redisUrl: undefined,
      accessTokenTtlSec: 900,
      refreshTokenTtlSec: 30 * 86_400,
      demoData: true,
      cacheTtlSec: 120,
      rateLimitMax: 300,
      rateLimitAuthMax: 10,
      rateLimitWindowMs: 60_000,
      corsOrigins: '*',
      metricsToken: undefined,
      metricsEnabled: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the embedded database queue bound and wait limit', () => {
    expect(loadConfig({})).toMatchObject({ pgliteQueueMax: 256, pgliteQueueTimeoutMs: 5000 });
    expect(loadConfig({ PGLITE_QUEUE_MAX: '0', PGLITE_QUEUE_TIMEOUT: '0s' })).toMatchObject({
      pgliteQueueMax: 0,
      pgliteQueueTimeoutMs: 0,
    });
    expect(loadConfig({ PGLITE_QUEUE_TIMEOUT: '1500ms' }).pgliteQueueTimeoutMs).toBe(1500);
    expect(() => loadConfig({ PGLITE_QUEUE_TIMEOUT: '5' })).toThrow(ConfigError);
  });

  it('reads TRUST_PROXY as off, a hop count or a list of addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 2001:db8::/32,127.0.0.1,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '2001:db8::/32',
      '127.0.0.1',
      'loopback',
    ]);
  });

  it('parses durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('120s')).toBe(120_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(() => parseDuration('15 minutes')).toThrow(ConfigError);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ACCESS_TOKEN_TTL', '15'],
    ['CACHE_TTL', '2 minutes'],
    ['RATE_LIMIT_MAX', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['DEMO_DATA', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1, proxy.example'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });

  it.each([
    ['the same character', 'a'.repeat(32)],
    ['a repeated phrase', 'change-me-change-me-change-me-change-me'],
    ['a short pattern', 'abc'.repeat(12)],
    ['a run of steps', '0123456789abcdefghijklmnopqrstuvwxyz'],
    ['a password repeated', 'Password123!Password123!Password123!'],
  ])('refuses a guessable JWT_SECRET (%s) even when long enough', (_, secret) => {
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, CORS_ORIGINS: 'https://a.test' }),
    ).toThrow(/JWT_SECRET: too predictable/);
    expect(() => loadConfig({ JWT_SECRET: secret })).toThrow(/JWT_SECRET/);
  });

  it('accepts random secrets of every usual encoding', () => {
    for (let i = 0; i < 200; i++) {
      for (const secret of [
        randomBytes(16).toString('hex'),
        randomBytes(32).toString('hex'),
        randomBytes(32).toString('base64'),
        randomBytes(48).toString('base64url'),
      ]) {
        expect(loadConfig({ JWT_SECRET: secret }).jwtSecret).toBe(secret);
      }
    }
  });

  it('refuses to start in production without a strong JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', CORS_ORIGINS: 'https://a.test' })).toThrow(
      /JWT_SECRET/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short', CORS_ORIGINS: 'https://a.test' }),
    ).toThrow(/JWT_SECRET/);
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.test' });
    expect(config.demoData).toBe(false);
    expect(config.corsOrigins).toEqual(['https://a.test']);
  });

  it('refuses DEMO_DATA=true in production: the demo admin has a published password', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.test' };
    for (const value of ['true', '1']) {
      expect(() => loadConfig({ ...production, DEMO_DATA: value })).toThrow(
        /DEMO_DATA: refused in production/,
      );
    }
    expect(loadConfig({ ...production, DEMO_DATA: 'false' }).demoData).toBe(false);
    expect(loadConfig({ DEMO_DATA: 'true' }).demoData).toBe(true);
  });

  it('serves metrics in production only with a METRICS_TOKEN of at least 16 bytes', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.test' };
    expect(loadConfig(production).metricsEnabled).toBe(false);
    expect(loadConfig({ ...production, METRICS_TOKEN: 'x'.repeat(16) }).metricsEnabled).toBe(true);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });

  it('refuses a wildcard CORS origin in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: '*' })).toThrow(
      /CORS_ORIGINS/,
    );
  });

  it('needs ADMIN_EMAIL and ADMIN_PASSWORD together', () => {
    expect(() => loadConfig({ ADMIN_EMAIL: 'root@example.test' })).toThrow(/ADMIN_PASSWORD/);
    expect(loadConfig({ ADMIN_EMAIL: 'Root@Example.test', ADMIN_PASSWORD: 'long-enough' }).adminEmail).toBe(
      'root@example.test',
    );
  });

  it('splits CORS_ORIGINS and treats empty values as unset', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.test, https://b.test' }).corsOrigins).toEqual([
      'https://a.test',
      'https://b.test',
    ]);
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });

  it('reads SERVICES, NATS_URL and GATEWAY_UPSTREAMS', () => {
    expect(loadConfig({}).services).toEqual({
      kind: 'roles',
      roles: new Set(['identity', 'catalog', 'library', 'discovery', 'media', 'subsonic', 'live', 'worker']),
    });
    const split = loadConfig({ SERVICES: 'catalog, worker', NATS_URL: 'nats://127.0.0.1:4222' });
    expect(split.services).toEqual({ kind: 'roles', roles: new Set(['catalog', 'worker']) });
    expect(split.natsStream).toBe('backbeat');
    expect(() => loadConfig({ SERVICES: 'catalog,radio', NATS_URL: 'nats://x:4222' })).toThrow(
      /SERVICES: unknown role "radio"/,
    );
    // Without NATS the other roles' processes would never see this one's events.
    expect(() => loadConfig({ SERVICES: 'catalog' })).toThrow(/SERVICES: .*needs NATS_URL/);
    expect(() => loadConfig({ NATS_URL: 'http://x' })).toThrow(/NATS_URL: must be a nats:\/\/ URL/);
    expect(() => loadConfig({ SERVICES: 'gateway' })).toThrow(/GATEWAY_UPSTREAMS: required/);
    const gateway = loadConfig({
      SERVICES: 'gateway',
      GATEWAY_UPSTREAMS: 'catalog=http://a:3000 http://b:3000/, identity=http://c:3000',
    });
    expect(gateway.services).toEqual({ kind: 'gateway' });
    expect(gateway.gatewayUpstreams).toEqual({
      catalog: ['http://a:3000', 'http://b:3000'],
      identity: ['http://c:3000'],
    });
    expect(() => loadConfig({ SERVICES: 'gateway', GATEWAY_UPSTREAMS: 'catalog=' })).toThrow(
      /GATEWAY_UPSTREAMS: "catalog=" is not role=url/,
    );
    expect(() => loadConfig({ SERVICES: 'gateway', GATEWAY_UPSTREAMS: 'catalog=ftp://a' })).toThrow(
      /must be an http\(s\) origin/,
    );
  });
});
