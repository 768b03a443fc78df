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
    });
    expect(Object.isFrozen(config)).toBe(true);
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
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
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
      roles: new Set(['identity', 'catalog', 'library', 'discovery', 'worker']),
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
