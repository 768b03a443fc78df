/**
 * Load suite:
 *   npm run bench [-- --quick] [--size S|M|L] [--target pglite|postgres] [--cache memory|redis]
 *     [--connections N] [--only key,key]
 * Generates the dataset if needed, starts Backbeat as its own process on it, drives every
 * scenario with autocannon over loopback, measures a bare node:http baseline the same way,
 * then writes bench/results/<target>-<cache>-<size>.json and regenerates BENCHMARKS.md
 * (except with --only, which runs some scenarios to try them and writes nothing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Request } from 'autocannon';
import { Redis } from 'ioredis';
import type { RecordedResponse } from './baseline.js';
import type { Manifest } from './data.js';
import { SIZES, type Size, userEmail } from './dataset/plan.js';
import { pgliteDataDir, postgresUrl, type Target } from './dataset/sql.js';
import { type Measurement, measure } from './load.js';
import { cpuSeconds, freePort, memoryMb, type Service, sampleRss, startService } from './processes.js';
import { RESULTS_DIR, type RunResult, type ScenarioResult, writeReport } from './report.js';
import { API, buildScenarios, CACHED_ALBUM_PAGE, type Scenario } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = ['--import', 'tsx'];
const SEED = 1;
/** The Redis database the suite owns (and flushes): tests and dev servers use others. */
const BENCH_REDIS_DB = 11;
const WRITERS = 10;
/** Requests of the one-connection run: enough for a median, few enough for slow endpoints. */
const ALONE_REQUESTS = 50;

const log = (line: string) => process.stdout.write(`${line}\n`);

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      size: { type: 'string', default: 'S' },
      target: { type: 'string', default: 'pglite' },
      cache: { type: 'string', default: 'memory' },
      connections: { type: 'string', default: '50' },
      only: { type: 'string' },
    },
  });
  const size = values.size!.toUpperCase();
  if (!(size in SIZES)) throw new Error(`--size must be S, M or L (got ${values.size})`);
  if (values.target !== 'pglite' && values.target !== 'postgres') {
    throw new Error(`--target must be pglite or postgres (got ${values.target})`);
  }
  if (values.cache !== 'memory' && values.cache !== 'redis') {
    throw new Error(`--cache must be memory or redis (got ${values.cache})`);
  }
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1)
    throw new Error('--connections must be a positive integer');
  return {
    quick: values.quick!,
    size: size as Size,
    target: values.target as Target,
    cache: values.cache as 'memory' | 'redis',
    connections,
    // Quick mode fits the whole suite on size S in under three minutes, data generation included.
    seconds: values.quick ? 3 : 10,
    warmupSeconds: values.quick ? 1 : 3,
    // A second warm-up, once what the first started in the background (the search index, the
    // album directory) is built: the measured window is the steady state, not the seconds of
    // collecting a build's leftovers and compiling the code that serves from the new copy.
    rewarmSeconds: values.quick ? 1 : 10,
    aloneSeconds: values.quick ? 2 : 5,
    only: values.only?.split(','),
  };
}
type Options = ReturnType<typeof parseOptions>;

/** Generates the dataset unless a current one exists; returns its manifest (with fixtures). */
function ensureDataset(options: Options): Manifest {
  const manifestFile = join(
    pgliteDataDir(options.size),
    '..',
    `manifest-${options.target}-${options.size}.json`,
  );
  const args = ['bench/data.ts', '--size', options.size, '--target', options.target, '--seed', String(SEED)];
  const generated = spawnSync(
    process.execPath,
    [...TSX, ...args, '--if-stale', '--fixtures-out', manifestFile],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
  if (generated.status !== 0) throw new Error(`dataset generation failed (exit ${generated.status})`);
  return JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
}

function benchRedisUrl(): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = `/${BENCH_REDIS_DB}`;
  return url.toString();
}

async function flushBenchRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** Node.js flags for the server under test (`SERVER_NODE_FLAGS`, e.g. `--trace-gc`), space-separated. */
const serverNodeFlags = () => (process.env.SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean);

async function startBackbeat(
  options: Options,
  port: number,
  scratch: string,
  logFile: string,
): Promise<Service> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    CORS_ORIGINS: `http://127.0.0.1:${port}`,
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    // Rate limits would turn a load test into a 429 test; they are measured, not exercised.
    RATE_LIMIT_MAX: '1000000000',
    RATE_LIMIT_AUTH_MAX: '1000000000',
    ACCESS_TOKEN_TTL: '2h',
    ADMIN_EMAIL: '',
    ADMIN_PASSWORD: '',
    // On PostgreSQL the data directory only holds what the server writes beside the database.
    DATA_DIR: options.target === 'pglite' ? pgliteDataDir(options.size) : join(scratch, 'data'),
    DATABASE_URL: options.target === 'postgres' ? postgresUrl(options.size) : '',
    REDIS_URL: options.cache === 'redis' ? benchRedisUrl() : '',
  };
  return startService(
    process.execPath,
    [...serverNodeFlags(), ...TSX, 'src/main.ts', 'serve'],
    env,
    `http://127.0.0.1:${port}/health`,
    logFile,
  );
}

async function login(base: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${base}${API}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = (await response.json()) as { accessToken?: string; code?: string };
  if (!response.ok || !body.accessToken)
    throw new Error(`login as ${email}: ${response.status} ${body.code}`);
  return body.accessToken;
}

const describe = (request: Request) => `${request.method ?? 'GET'} ${request.path}`;

/**
 * Sends one pass of a scenario's request cycle. A route that answers 404 ROUTE_NOT_FOUND (or
 * 405) belongs to a module that has not landed: the scenario is reported as not available.
 */
async function probe(
  base: string,
  scenario: Scenario,
): Promise<Pick<ScenarioResult, 'status' | 'note' | 'example'>> {
  const context: Record<string, unknown> = {};
  let example: string | undefined;
  for (const template of scenario.requests) {
    const request = template.setupRequest ? template.setupRequest({ ...template }, context) : template;
    example ??= describe(request);
    const response = await fetch(`${base}${request.path}`, {
      method: request.method ?? 'GET',
      headers: request.headers ?? {},
      body: request.body ?? null,
    });
    const text = await response.text();
    if (scenario.expect.includes(response.status)) continue;
    let code = '';
    try {
      code = (JSON.parse(text) as { code?: string }).code ?? '';
    } catch {}
    const seen = `${describe(request)} answered ${response.status} ${code}`.trim();
    const missing = (response.status === 404 && code === 'ROUTE_NOT_FOUND') || response.status === 405;
    return { status: missing ? 'not available' : 'failed', note: seen, example };
  }
  return { status: 'measured', example };
}

/** Wraps a request cycle so the run can tell how many requests it built, and how many differed. */
function countingDistinct(requests: Request[]) {
  const distinct = new Set<string>();
  const counts = { built: 0 };
  const key = (r: Request) => `${describe(r)} ${r.body ?? ''}`;
  const wrapped = requests.map((template): Request => {
    const setup = template.setupRequest;
    if (!setup) {
      distinct.add(key(template));
      return template;
    }
    return {
      ...template,
      setupRequest: (request: Request, context: Record<string, unknown>) => {
        const built = setup(request, context);
        counts.built++;
        distinct.add(key(built));
        return built;
      },
    };
  });
  return { requests: wrapped, distinct, counts };
}

async function record(url: string): Promise<RecordedResponse> {
  const response = await fetch(url);
  const body = Buffer.from(await response.arrayBuffer());
  // Hop-by-hop and per-response headers are the baseline server's own to write.
  const skip = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!skip.has(name)) headers[name] = value;
  });
  return { status: response.status, headers, body: body.toString('base64') };
}

const SETTLE_TIMEOUT_MS = 120_000;

/**
 * Waits until the server is idle: it burns almost no CPU and a database round trip
 * (/health/ready) is prompt. When a load phase ends, autocannon drops its connections but the
 * server still works through the requests already accepted (on PGlite one query at a time,
 * possibly many seconds of them); the next phase must not pay for them.
 */
async function settle(base: string, pid: number): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < SETTLE_TIMEOUT_MS) {
    const cpuBefore = cpuSeconds(pid);
    await sleep(250);
    const busy = (cpuSeconds(pid) - cpuBefore) / 0.25;
    const sent = performance.now();
    await (await fetch(`${base}/health/ready`)).arrayBuffer();
    if (busy < 0.1 && performance.now() - sent < 100) return;
  }
  log(`  (the server was still busy ${SETTLE_TIMEOUT_MS / 1000} s after a load phase; going on)`);
}

/** Statuses other than 2xx by count, e.g. `503 x12`: a shed request is not a success. */
const otherStatuses = (m: Measurement) =>
  Object.entries(m.statuses)
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, count]) => `${status} x${count}`)
    .join(', ');

const summary = (m: Measurement) =>
  `${m.rps.toLocaleString('en-US')} req/s, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms` +
  (m.unexpected || m.errors
    ? ` (${m.unexpected} unexpected${otherStatuses(m) ? `: ${otherStatuses(m)}` : ''} of ${m.requests}, ${m.errors} errors)`
    : '');

async function runScenarios(
  options: Options,
  base: string,
  server: Service,
  manifest: Manifest,
): Promise<{ scenarios: ScenarioResult[]; page: RecordedResponse | undefined }> {
  const password = manifest.fixtures.password;
  const feedToken = await login(base, manifest.fixtures.accounts.user, password);
  const writerTokens = [];
  for (let i = 1; i <= WRITERS; i++) writerTokens.push(await login(base, userEmail(i), password));
  const all = buildScenarios({ fixtures: manifest.fixtures, seed: SEED, feedToken, writerTokens });
  const results: ScenarioResult[] = [];
  let page: RecordedResponse | undefined;
  for (const scenario of all.filter((s) => !options.only || options.only.includes(s.key))) {
    const scenarioInfo = {
      key: scenario.key,
      title: scenario.title,
      mix: scenario.mix,
      cachedByApp: scenario.cachedByApp,
    };
    const probed = await probe(base, scenario);
    if (probed.status !== 'measured') {
      log(`${scenario.key}: ${probed.status} (${probed.note})`);
      results.push({ ...scenarioInfo, ...probed });
      continue;
    }
    const load = { connections: options.connections, expect: scenario.expect };
    await measure(base, scenario.requests, { ...load, seconds: options.warmupSeconds });
    await settle(base, server.pid);
    await measure(base, scenario.requests, { ...load, seconds: options.rewarmSeconds });
    await settle(base, server.pid);
    const counted = countingDistinct(scenario.requests);
    const rss = sampleRss(server.pid);
    const measurement = await measure(base, counted.requests, { ...load, seconds: options.seconds });
    const rssMb = rss.stop();
    await settle(base, server.pid);
    // One connection: the time a request takes when it does not queue behind 49 others.
    const alone = await measure(base, scenario.requests, {
      ...load,
      connections: 1,
      amount: ALONE_REQUESTS,
      seconds: options.aloneSeconds,
    });
    log(`${scenario.key}: ${summary(measurement)}, RSS ${rssMb} MB; alone p50 ${alone.latencyMs.p50} ms`);
    const distinct = { distinct: counted.distinct.size, built: counted.counts.built || measurement.requests };
    results.push({ ...scenarioInfo, ...probed, ...distinct, measurement, alone: alone.latencyMs, rssMb });
    if (scenario.key === 'album-page-cached') page = await record(`${base}${CACHED_ALBUM_PAGE}`);
  }
  return { scenarios: results, page };
}

async function runBaseline(options: Options, page: RecordedResponse, scratch: string, logFile: string) {
  const responseFile = join(scratch, 'response.json');
  writeFileSync(responseFile, JSON.stringify(page));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startService(
    process.execPath,
    [...TSX, 'bench/baseline.ts', responseFile, String(port)],
    {},
    `${base}/health`,
    logFile,
  );
  try {
    const idleRssMb = memoryMb(server.pid, 'VmRSS');
    const requests = [{ method: 'GET', path: CACHED_ALBUM_PAGE }];
    const load = { connections: options.connections, expect: [page.status] };
    await measure(base, requests, { ...load, seconds: options.warmupSeconds });
    const rss = sampleRss(server.pid);
    const measurement = await measure(base, requests, { ...load, seconds: options.seconds });
    return { idleRssMb, loadRssMb: rss.stop(), measurement };
  } finally {
    await server.stop();
  }
}

function machine() {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    ramGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${type()} ${release()}`,
    loadAverage: loadavg()[0]!,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const key = `${options.target}-${options.cache}-${options.size}`;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAtStart = machine();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const manifest = ensureDataset(options);
  if (options.cache === 'redis') await flushBenchRedis(benchRedisUrl());

  const logFile = join(RESULTS_DIR, `server-${key}.log`);
  writeFileSync(logFile, '');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  log(`starting Backbeat (${key}) on ${base}`);
  const scratch = mkdtempSync(join(tmpdir(), 'backbeat-bench-'));
  const server = await startBackbeat(options, port, scratch, logFile);
  let scenarios: ScenarioResult[];
  let page: RecordedResponse | undefined;
  let idleRssMb: number;
  let peakRssMb: number;
  try {
    log(`cold start ${server.startMs} ms`);
    // Let start-up work (JIT, pools, the outbox relay's first pass) settle before calling it idle.
    await sleep(1000);
    idleRssMb = memoryMb(server.pid, 'VmRSS');
    log(`idle RSS ${idleRssMb} MB`);
    ({ scenarios, page } = await runScenarios(options, base, server, manifest));
    // Without the album endpoint the baseline serves the health answer, and says so.
    page ??= await record(`${base}/health`);
    peakRssMb = memoryMb(server.pid, 'VmHWM');
  } finally {
    await server.stop();
  }

  const cachedPage = scenarios.some((s) => s.key === 'album-page-cached' && s.status === 'measured');
  const baseline = await runBaseline(options, page, scratch, join(RESULTS_DIR, 'baseline.log'));
  rmSync(scratch, { recursive: true, force: true });
  log(`baseline: ${summary(baseline.measurement)}`);

  const args = process.argv.slice(2).join(' ');
  const result: RunResult = {
    key,
    target: options.target,
    cache: options.cache,
    size: options.size,
    quick: options.quick,
    command: `npm run bench${args ? ` -- ${args}` : ''}`,
    date: startedAt,
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(),
    machine: loadAtStart,
    settings: {
      connections: options.connections,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      rewarmSeconds: options.rewarmSeconds,
      aloneSeconds: options.aloneSeconds,
    },
    dataset: {
      seed: manifest.seed,
      generated: manifest.now,
      loadSeconds: manifest.loadSeconds,
      modules: manifest.modules,
      rows: manifest.rows,
    },
    server: { coldStartMs: server.startMs, idleRssMb, peakRssMb },
    baseline: {
      source: cachedPage ? `recorded ${CACHED_ALBUM_PAGE}` : 'recorded /health (no album endpoint yet)',
      bytes: Buffer.from(page.body, 'base64').length,
      idleRssMb: baseline.idleRssMb,
      loadRssMb: baseline.loadRssMb,
      measurement: baseline.measurement,
    },
    scenarios,
  };
  const took = `suite took ${Math.round((performance.now() - started) / 1000)} s`;
  // A partial run (--only) must not stand in the report for the whole suite.
  if (options.only) {
    log(`${took}; --only: nothing written`);
    return;
  }
  writeFileSync(join(RESULTS_DIR, `${key}.json`), `${JSON.stringify(result, null, 2)}\n`);
  log(`${writeReport()} written; ${took}`);
}

await main();
