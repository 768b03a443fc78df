import { isIP } from 'node:net';
import { join } from 'node:path';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parseServices, ROLES, type Services } from './roles.js';

/**
 * Every environment variable Backbeat reads, validated once at start. Nothing else in the code
 * base reads `process.env`: modules receive the frozen `Config` built here.
 */
const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
const INT_PATTERN = '^[0-9]+$';
const SIZE_PATTERN = '^[0-9]+(B|KB|MB|GB)?$';
const Duration = Type.String({ pattern: DURATION_PATTERN });
const Int = Type.String({ pattern: INT_PATTERN });
const Size = Type.String({ pattern: SIZE_PATTERN });
const Bool = Type.Enum(['true', 'false', '1', '0']);
const NATS_NAME_PATTERN = '^[A-Za-z0-9_-]{1,32}$';
/**
 * Default of PGLITE_QUEUE_MAX: the statements and transactions that may wait for the embedded
 * database. Its queue lets the server read requests while statements run, so 50 busy
 * connections keep some 50-100 outstanding: the bound is for floods, PGLITE_QUEUE_TIMEOUT for slowness.
 */
export const DEFAULT_PGLITE_QUEUE_MAX = 256;
/** Default of PGLITE_QUEUE_TIMEOUT: how long an API request may wait for the embedded database. */
export const DEFAULT_PGLITE_QUEUE_TIMEOUT_MS = 5000;

const PATTERN_HINTS: Record<string, string> = {
  [DURATION_PATTERN]: 'must be a duration such as 250ms, 120s, 15m, 12h or 30d',
  [INT_PATTERN]: 'must be a whole number',
  [SIZE_PATTERN]: 'must be a size such as 500MB, 10MB, 64KB or a number of bytes',
  '^postgres(ql)?://': 'must be a postgres:// URL',
  '^rediss?://': 'must be a redis:// URL',
  '^(nats|tls)://': 'must be a nats:// URL',
  [NATS_NAME_PATTERN]: 'must be 1..32 of A-Z a-z 0-9 _ -',
};

const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Type.Enum(['development', 'production', 'test'])),
  PORT: Type.Optional(Int),
  HOST: Type.Optional(Type.String({ minLength: 1 })),
  DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  PGLITE_QUEUE_MAX: Type.Optional(Int),
  PGLITE_QUEUE_TIMEOUT: Type.Optional(Duration),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  ACCESS_TOKEN_TTL: Type.Optional(Duration),
  REFRESH_TOKEN_TTL: Type.Optional(Duration),
  ADMIN_EMAIL: Type.Optional(Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
  DEMO_DATA: Type.Optional(Bool),
  CACHE_TTL: Type.Optional(Duration),
  RATE_LIMIT_MAX: Type.Optional(Int),
  RATE_LIMIT_AUTH_MAX: Type.Optional(Int),
  RATE_LIMIT_WINDOW: Type.Optional(Duration),
  CORS_ORIGINS: Type.Optional(Type.String()),
  TRUST_PROXY: Type.Optional(Type.String()),
  LOG_LEVEL: Type.Optional(Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  MEDIA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  MUSIC_DIR: Type.Optional(Type.String({ minLength: 1 })),
  UPLOAD_MAX_BYTES: Type.Optional(Size),
  IMAGE_MAX_BYTES: Type.Optional(Size),
  FFMPEG_PATH: Type.Optional(Type.String({ minLength: 1 })),
  TRANSCODE_CONCURRENCY: Type.Optional(Int),
  STREAM_URL_TTL: Type.Optional(Duration),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  BODY_TIMEOUT: Type.Optional(Duration),
  NATS_URL: Type.Optional(Type.String({ pattern: '^(nats|tls)://' })),
  NATS_STREAM: Type.Optional(Type.String({ pattern: NATS_NAME_PATTERN })),
  SERVICES: Type.Optional(Type.String({ minLength: 1 })),
  GATEWAY_UPSTREAMS: Type.Optional(Type.String({ minLength: 1 })),
});
type Env = Static<typeof EnvSchema>;

export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /**
   * Embedded database only: statements and transactions that may wait for it before new requests
   * needing it answer 503 with Retry-After (0: no bound).
   */
  pgliteQueueMax: number;
  /** PGLITE_QUEUE_TIMEOUT in ms: an API request waits no longer for the embedded database (0: no limit). */
  pgliteQueueTimeoutMs: number;
  redisUrl: string | undefined;
  /** Undefined until `resolveJwtSecret` has run (main does it before building the app). */
  jwtSecret: string | undefined;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  demoData: boolean;
  cacheTtlSec: number;
  rateLimitMax: number;
  rateLimitAuthMax: number;
  rateLimitWindowMs: number;
  corsOrigins: string[] | '*';
  /**
   * Which proxies may name the client in `X-Forwarded-For` (Fastify's `trustProxy`): off, the
   * number of proxy hops in front of the server, or the proxies' addresses and CIDR ranges.
   */
  trustProxy: false | number | string[];
  logLevel: string;
  /** Uploaded originals, renditions and images (default DATA_DIR/media). */
  mediaDir: string;
  /** A read-only music folder admins may scan; unset: no folder import. */
  musicDir: string | undefined;
  uploadMaxBytes: number;
  imageMaxBytes: number;
  /** Unset: `ffmpeg` on PATH, else the binary npm installed (platform/ffmpeg.ts decides). */
  ffmpegPath: string | undefined;
  transcodeConcurrency: number;
  streamUrlTtlSec: number;
  /**
   * Bearer token `/metrics` requires. Unset: metrics are open outside production and not
   * served at all in production, where they would tell anyone the traffic and routes.
   */
  metricsToken: string | undefined;
  /** Whether `/metrics` is served (see `metricsToken`). */
  metricsEnabled: boolean;
  /** Longest pause while a request body arrives before the request ends with 408. */
  bodyTimeoutMs: number;
  /** NATS JetStream for domain events across processes; unset: the in-process bus. */
  natsUrl: string | undefined;
  /** The JetStream stream; it also names the subjects and consumers, so deployments can share a server. */
  natsStream: string;
  /** What this process serves: its roles, or the gateway. */
  services: Services;
  /** Gateway only: the processes serving each role. */
  gatewayUpstreams: Record<string, string[]>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const SIZE_UNITS = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as const;

/** Parses `500MB`, `10MB`, `64KB` or a plain byte count. */
export function parseSize(value: string): number {
  const match = /^([0-9]+)(B|KB|MB|GB)?$/.exec(value);
  if (!match) throw new ConfigError(`not a size: ${value}`);
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? 'B') as keyof typeof SIZE_UNITS];
}

/** Parses `15m`, `30d`, `120s`, `250ms` into milliseconds. */
export function parseDuration(value: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new ConfigError(`not a duration: ${value}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Names proxy-addr knows for the usual private ranges, besides addresses and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `TRUST_PROXY`: unset or `0` is off, a whole number is a hop count, else addresses and CIDRs. */
function parseTrustProxy(value: string | undefined): false | number | string[] {
  if (value === undefined || value.trim() === '' || value.trim() === '0') return false;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim());
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 6 ? 128 : 32;
    const validPrefix = prefix === undefined || (/^[0-9]+$/.test(prefix) && Number(prefix) <= maxPrefix);
    const named = PROXY_RANGE_NAMES.has(entry);
    if (!named && (family === 0 || !validPrefix || extra !== undefined)) {
      throw new ConfigError(
        `TRUST_PROXY: must be a hop count or a comma-separated list of proxy addresses or CIDR ranges (got ${JSON.stringify(entry)})`,
      );
    }
  }
  return entries;
}

/** Shannon entropy of `symbols` in bits per symbol, from their frequencies in it. */
function bitsPerSymbol(symbols: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const symbol of symbols) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) bits -= (count / symbols.length) * Math.log2(count / symbols.length);
  return bits;
}

/**
 * A length check alone lets `aaaa...` or `change-me-change-me...` through. Without a dictionary
 * this cannot prove a secret random, but it refuses the usual shapes of a made-up one: too
 * uniform characters or steps between them (`abcdef...`), and a repeated run of eight or more.
 * The bounds leave a margin for 16 random bytes in hex (32 characters, the least that passes the
 * length check): 80 estimated bits, where such a value rarely scores under 95.
 */
function looksGuessable(secret: string): boolean {
  const codes = [...secret].map((char) => char.codePointAt(0) ?? 0);
  const steps = codes.slice(1).map((code, i) => code - codes[i]!);
  const estimatedBits = Math.min(bitsPerSymbol(codes) * codes.length, bitsPerSymbol(steps) * steps.length);
  return estimatedBits < 80 || hasRepeatedRun(secret, 8);
}

function hasRepeatedRun(text: string, length: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + length <= text.length; i++) {
    const run = text.slice(i, i + length);
    if (seen.has(run)) return true;
    seen.add(run);
  }
  return false;
}

function describeEnvErrors(env: Record<string, unknown>): string {
  return [...Value.Errors(EnvSchema, env)]
    .map((error) => {
      const name =
        error.instancePath.replace(/^\//, '') || String(error.params && Object.values(error.params)[0]);
      const hint = PATTERN_HINTS[String((error.params as { pattern?: string } | undefined)?.pattern)];
      return `${name}: ${hint ?? error.message} (got ${JSON.stringify(env[name])})`;
    })
    .join('; ');
}

/**
 * Builds the frozen configuration from an environment. A bad value throws a `ConfigError`
 * naming the variable, so a misconfigured server refuses to start instead of limping.
 */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const env: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  if (!Value.Check(EnvSchema, env)) {
    throw new ConfigError(`invalid configuration: ${describeEnvErrors(env)}`);
  }
  const e = env as Env;
  const nodeEnv: NodeEnv = e.NODE_ENV ?? 'development';
  const production = nodeEnv === 'production';

  if (production && (!e.JWT_SECRET || Buffer.byteLength(e.JWT_SECRET) < 32)) {
    throw new ConfigError('JWT_SECRET: required in production and must be at least 32 bytes');
  }
  if (e.JWT_SECRET && Buffer.byteLength(e.JWT_SECRET) < 32) {
    throw new ConfigError('JWT_SECRET: must be at least 32 bytes');
  }
  if (e.JWT_SECRET && looksGuessable(e.JWT_SECRET)) {
    throw new ConfigError(
      'JWT_SECRET: too predictable (repeated or too few different characters); use a random value, e.g. `openssl rand -base64 48`',
    );
  }
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither');
  }
  if (production && (e.DEMO_DATA === 'true' || e.DEMO_DATA === '1')) {
    throw new ConfigError(
      'DEMO_DATA: refused in production; the demo catalog creates an admin whose password is published',
    );
  }
  if (e.METRICS_TOKEN !== undefined && Buffer.byteLength(e.METRICS_TOKEN) < 16) {
    throw new ConfigError('METRICS_TOKEN: must be at least 16 bytes');
  }
  const port = Number(e.PORT ?? 3000);
  if (port > 65535) throw new ConfigError(`PORT: must be 0..65535 (got ${e.PORT})`);
  const rateLimitWindowMs = parseDuration(e.RATE_LIMIT_WINDOW ?? '1m');
  if (rateLimitWindowMs < 1000) throw new ConfigError('RATE_LIMIT_WINDOW: must be at least 1s');
  const accessTokenTtlSec = Math.floor(parseDuration(e.ACCESS_TOKEN_TTL ?? '15m') / 1000);
  const refreshTokenTtlSec = Math.floor(parseDuration(e.REFRESH_TOKEN_TTL ?? '30d') / 1000);
  if (accessTokenTtlSec < 1) throw new ConfigError('ACCESS_TOKEN_TTL: must be at least 1s');
  if (refreshTokenTtlSec <= accessTokenTtlSec) {
    throw new ConfigError('REFRESH_TOKEN_TTL: must be longer than ACCESS_TOKEN_TTL');
  }

  const origins = e.CORS_ORIGINS ?? (production ? '' : '*');
  if (production && origins.split(',').some((o) => o.trim() === '*')) {
    throw new ConfigError('CORS_ORIGINS: "*" is not allowed in production; list the origins');
  }
  const corsOrigins =
    origins.trim() === '*'
      ? '*'
      : origins
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean);

  const dataDir = e.DATA_DIR ?? './data';
  const transcodeConcurrency = Number(e.TRANSCODE_CONCURRENCY ?? 1);
  if (transcodeConcurrency < 1 || transcodeConcurrency > 64) {
    throw new ConfigError(`TRANSCODE_CONCURRENCY: must be 1..64 (got ${e.TRANSCODE_CONCURRENCY})`);
  }
  const streamUrlTtlSec = Math.floor(parseDuration(e.STREAM_URL_TTL ?? '6h') / 1000);
  if (streamUrlTtlSec < 1) throw new ConfigError('STREAM_URL_TTL: must be at least 1s');
  const uploadMaxBytes = parseSize(e.UPLOAD_MAX_BYTES ?? '500MB');
  const imageMaxBytes = parseSize(e.IMAGE_MAX_BYTES ?? '10MB');
  if (uploadMaxBytes < 1 || imageMaxBytes < 1) {
    throw new ConfigError('UPLOAD_MAX_BYTES and IMAGE_MAX_BYTES: must be at least 1 byte');
  }
  const services = parseServices(e.SERVICES ?? 'all');
  if (typeof services === 'string') throw new ConfigError(`SERVICES: ${services} (got "${e.SERVICES}")`);
  if (services.kind === 'roles' && services.roles.size < ROLES.length && !e.NATS_URL) {
    throw new ConfigError(
      'SERVICES: a process serving only some roles needs NATS_URL, so events reach the processes of the other roles',
    );
  }
  const gatewayUpstreams = parseUpstreams(e.GATEWAY_UPSTREAMS ?? '');
  if (services.kind === 'gateway' && !Object.keys(gatewayUpstreams).length) {
    throw new ConfigError('GATEWAY_UPSTREAMS: required with SERVICES=gateway (role=url[ url...],...)');
  }

  return Object.freeze({
    nodeEnv,
    port,
    host: e.HOST ?? '0.0.0.0',
    dataDir,
    databaseUrl: e.DATABASE_URL,
    pgliteQueueMax: Number(e.PGLITE_QUEUE_MAX ?? DEFAULT_PGLITE_QUEUE_MAX),
    pgliteQueueTimeoutMs:
      e.PGLITE_QUEUE_TIMEOUT === undefined
        ? DEFAULT_PGLITE_QUEUE_TIMEOUT_MS
        : parseDuration(e.PGLITE_QUEUE_TIMEOUT),
    redisUrl: e.REDIS_URL,
    jwtSecret: e.JWT_SECRET,
    accessTokenTtlSec,
    refreshTokenTtlSec,
    adminEmail: e.ADMIN_EMAIL?.toLowerCase(),
    adminPassword: e.ADMIN_PASSWORD,
    demoData: e.DEMO_DATA === undefined ? !production : e.DEMO_DATA === 'true' || e.DEMO_DATA === '1',
    metricsToken: e.METRICS_TOKEN,
    metricsEnabled: e.METRICS_TOKEN !== undefined || !production,
    bodyTimeoutMs: Math.max(100, parseDuration(e.BODY_TIMEOUT ?? '10s')),
    cacheTtlSec: Math.max(1, Math.floor(parseDuration(e.CACHE_TTL ?? '120s') / 1000)),
    rateLimitMax: Number(e.RATE_LIMIT_MAX ?? 300),
    rateLimitAuthMax: Number(e.RATE_LIMIT_AUTH_MAX ?? 10),
    rateLimitWindowMs,
    corsOrigins,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    logLevel: e.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    mediaDir: e.MEDIA_DIR ?? join(dataDir, 'media'),
    musicDir: e.MUSIC_DIR,
    uploadMaxBytes,
    imageMaxBytes,
    ffmpegPath: e.FFMPEG_PATH,
    transcodeConcurrency,
    streamUrlTtlSec,
    natsUrl: e.NATS_URL,
    natsStream: e.NATS_STREAM ?? 'backbeat',
    services,
    gatewayUpstreams,
  });
}

/** Parses `GATEWAY_UPSTREAMS`: `role=url[ url...],...`, every URL an http(s) origin. */
export function parseUpstreams(value: string): Record<string, string[]> {
  const upstreams: Record<string, string[]> = {};
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [role, urls = ''] = entry.split('=', 2).map((part) => part.trim());
    const list = urls.split(/\s+/).filter(Boolean);
    if (!role || !/^[a-z]+$/.test(role) || !list.length) {
      throw new ConfigError(`GATEWAY_UPSTREAMS: "${entry}" is not role=url[ url...]`);
    }
    for (const url of list) {
      if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) {
        throw new ConfigError(
          `GATEWAY_UPSTREAMS: "${url}" must be an http(s) origin such as http://10.0.0.5:3000`,
        );
      }
    }
    upstreams[role] = [...(upstreams[role] ?? []), ...list.map((url) => url.replace(/\/$/, ''))];
  }
  return upstreams;
}
