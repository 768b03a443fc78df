/**
 * Writes BENCHMARKS.md from every result file: bench/reports/*.json (committed) overlaid by
 * bench/results/*.json (the latest local runs). Nobody edits those figures by hand; the sections
 * after HAND_WRITTEN_MARKER (figures of the other benches, with their commands) are kept as they are.
 *   node --import tsx bench/report.ts [--publish]
 * --publish first copies bench/results/*.json into bench/reports/ so the report can be rebuilt
 * from a fresh clone.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Size } from './dataset/plan.js';
import type { Latency, Measurement } from './load.js';
import type { RequestMix } from './scenarios.js';

export interface ScenarioResult {
  key: string;
  title: string;
  mix: RequestMix;
  /** The endpoint keeps its answers in the app's cache, so repeated requests are hits. */
  cachedByApp?: boolean;
  /** 'not available': its route answered 404 ROUTE_NOT_FOUND; 'failed': its probe got another error. */
  status: 'measured' | 'not available' | 'failed';
  /** Why it was not measured. */
  note?: string;
  /** The first request of the cycle, as sent. */
  example?: string;
  /** Distinct requests among those built during the measured run (what a cache would have to hold). */
  distinct?: number;
  /** Requests built during the measured run (answered or still in flight when it ended). */
  built?: number;
  measurement?: Measurement;
  /** Latency over a short run with one connection: the request's own cost, without queueing. */
  alone?: Latency;
  /** Highest resident memory of the server during this scenario. */
  rssMb?: number;
}

export interface RunResult {
  key: string;
  target: 'pglite' | 'postgres';
  cache: 'memory' | 'redis';
  size: Size;
  quick: boolean;
  command: string;
  date: string;
  commit: string;
  machine: { cpu: string; cores: number; ramGb: number; node: string; os: string; loadAverage: number };
  settings: {
    connections: number;
    seconds: number;
    warmupSeconds: number;
    /** Absent from reports made before the second warm-up existed. */
    rewarmSeconds?: number;
    aloneSeconds: number;
  };
  dataset: {
    seed: number;
    generated: string;
    loadSeconds: number;
    modules: string[];
    rows: Record<string, number>;
  };
  server: { coldStartMs: number; idleRssMb: number; peakRssMb: number };
  baseline: { source: string; bytes: number; idleRssMb: number; loadRssMb: number; measurement: Measurement };
  scenarios: ScenarioResult[];
}

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const REPORTS_DIR = join(BENCH_DIR, 'reports');
const BENCHMARKS_FILE = join(BENCH_DIR, '..', 'BENCHMARKS.md');

const SIZE_ORDER: Record<Size, number> = { S: 0, M: 1, L: 2 };
const TARGET_NAME = { pglite: 'PGlite (embedded)', postgres: 'PostgreSQL 15' } as const;
const CACHE_NAME = { memory: 'in-process cache', redis: 'Redis cache' } as const;

function readResults(dir: string): RunResult[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunResult)
    .filter((r) => Array.isArray(r.scenarios));
}

/** Committed reports, with any newer local result of the same configuration in their place. */
export function loadAllResults(): RunResult[] {
  const byKey = new Map<string, RunResult>();
  for (const result of [...readResults(REPORTS_DIR), ...readResults(RESULTS_DIR)])
    byKey.set(result.key, result);
  return [...byKey.values()].sort(
    (a, b) =>
      SIZE_ORDER[a.size] - SIZE_ORDER[b.size] ||
      a.target.localeCompare(b.target) ||
      a.cache.localeCompare(b.cache),
  );
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : num(n));
const pct = (ratio: number) => `${Math.round(ratio * 100)}%`;
const label = (r: RunResult) => `size ${r.size}, ${TARGET_NAME[r.target]}, ${CACHE_NAME[r.cache]}`;

const MIX_NOTE: Record<RequestMix, string> = {
  same: 'same request',
  varied: 'new query each time',
  cycled: 'distinct requests in turn',
  skewed: 'popular-first, repeats',
  write: 'write',
};

/** Answers the scenario did not expect, by status, and connection errors or timeouts (10 s). */
function failureNote(m: Measurement): string {
  if (!m.unexpected && !m.errors) return '';
  const statuses = Object.entries(m.statuses)
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, count]) => `${num(count)}× ${status}`);
  return [
    `${num(m.unexpected)} unexpected`,
    ...statuses,
    ...(m.errors ? [`${num(m.errors)} errors`] : []),
  ].join(', ');
}

const aloneCell = (s: ScenarioResult) => (s.alone?.p50 ? ms(s.alone.p50) : '');

function scenarioRow(r: RunResult, s: ScenarioResult): string {
  if (s.status !== 'measured' || !s.measurement)
    return `| ${s.title} | ${s.status} | | | | | ${s.note ?? ''} |`;
  const m = s.measurement;
  if (!m.requests) {
    return `| ${s.title} | 0 | | | 0% | ${aloneCell(s)} | ${num(s.rssMb ?? 0)} | no answer within the ${r.settings.seconds} s window |`;
  }
  const notes = [
    `${MIX_NOTE[s.mix]}${s.distinct && s.built && s.mix !== 'same' && s.mix !== 'write' ? ` (${num(s.distinct)} distinct of ${num(s.built)} sent)` : ''}`,
    failureNote(m),
  ].filter(Boolean);
  return (
    `| ${s.title} | ${num(m.rps)} | ${ms(m.latencyMs.p50)} | ${ms(m.latencyMs.p99)} | ` +
    `${pct(m.rps / r.baseline.measurement.rps)} | ${aloneCell(s)} | ${num(s.rssMb ?? 0)} | ${notes.join('; ')} |`
  );
}

function runSection(r: RunResult): string {
  const rows = Object.entries(r.dataset.rows)
    .map(([table, count]) => `${num(count)} ${table}`)
    .join(', ');
  const b = r.baseline.measurement;
  return [
    `### ${label(r)}`,
    '',
    `Run ${r.date.slice(0, 16).replace('T', ' ')} UTC at commit \`${r.commit}\`, ` +
      `${r.quick ? 'quick mode' : 'full mode'}: ${r.settings.connections} connections, ` +
      `${r.settings.warmupSeconds} s warm-up` +
      (r.settings.rewarmSeconds ? ` and, once the server is idle, ${r.settings.rewarmSeconds} s more` : '') +
      ` then ${r.settings.seconds} s per scenario, then ` +
      `up to 50 requests (at most ${r.settings.aloneSeconds} s) on one connection; ` +
      `load average ${r.machine.loadAverage.toFixed(1)} at the start. Command: \`${r.command}\`.`,
    '',
    `Dataset (seed ${r.dataset.seed}, modules ${r.dataset.modules.join(', ')}): ${rows}; ` +
      `generated in ${r.dataset.loadSeconds} s.`,
    '',
    `Server: cold start ${num(r.server.coldStartMs)} ms (spawn to first 200 on /health), ` +
      `idle RSS ${num(r.server.idleRssMb)} MB, peak RSS ${num(r.server.peakRssMb)} MB. ` +
      `Baseline (${r.baseline.source}, ${num(r.baseline.bytes)} bytes): ${num(b.rps)} req/s, ` +
      `p50 ${ms(b.latencyMs.p50)} ms, p99 ${ms(b.latencyMs.p99)} ms, RSS ${num(r.baseline.loadRssMb)} MB under load.`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | of baseline req/s | p50 ms, 1 connection | RSS MB | requests |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...r.scenarios.map((s) => scenarioRow(r, s)),
    '',
  ].join('\n');
}

type Verdict = 'met' | 'not met' | 'not measured';

interface TargetLine {
  target: string;
  verdict: Verdict;
  detail: string;
}

const measured = (r: RunResult | undefined, key: string) =>
  r?.scenarios.find((s) => s.key === key && s.status === 'measured' && s.measurement);

/** Cached album page at no less than half the bare server's throughput, per configuration. */
function cachedPageTargets(results: RunResult[]): TargetLine[] {
  if (!results.length) {
    return [
      { target: 'Cached album page >= 50% of baseline req/s', verdict: 'not measured', detail: 'no runs' },
    ];
  }
  return results.map((r) => {
    const s = measured(r, 'album-page-cached');
    if (!s) {
      return {
        target: `Cached album page >= 50% of baseline req/s (${label(r)})`,
        verdict: 'not measured',
        detail: 'the album list endpoint was not available',
      };
    }
    const ratio = s.measurement!.rps / r.baseline.measurement.rps;
    return {
      target: `Cached album page >= 50% of baseline req/s (${label(r)})`,
      verdict: ratio >= 0.5 ? 'met' : 'not met',
      detail: `${num(s.measurement!.rps)} of ${num(r.baseline.measurement.rps)} req/s = ${pct(ratio)}`,
    };
  });
}

const LATENCY_TARGETS = [
  { key: 'album-page-filtered', name: 'filtered sorted page', p99: 10 },
  { key: 'search-typo', name: 'typo search', p99: 25 },
  { key: 'top-albums', name: 'top albums', p99: 5 },
  { key: 'genre-stats', name: 'genre stats', p99: 5 },
  { key: 'notification-feed', name: 'feed of a user following 1,000 albums', p99: 15 },
];

/** p99 limits at size L on PostgreSQL, 50 connections. */
function latencyTargets(results: RunResult[]): TargetLine[] {
  const atL = results.find((r) => r.size === 'L' && r.target === 'postgres' && r.cache === 'memory');
  const largest = results
    .filter((r) => r.target === 'postgres')
    .sort((a, b) => SIZE_ORDER[b.size] - SIZE_ORDER[a.size])[0];
  return LATENCY_TARGETS.map(({ key, name, p99 }) => {
    const target = `PostgreSQL, size L, 50 connections: ${name} p99 < ${p99} ms`;
    const s = measured(atL, key);
    if (!atL || !s) {
      const hint = measured(largest, key);
      return {
        target,
        verdict: 'not measured' as const,
        detail: [
          atL ? 'endpoint not available in the size L run' : 'no size L run on PostgreSQL',
          hint ? `for orientation, size ${largest!.size}: p99 ${ms(hint.measurement!.latencyMs.p99)} ms` : '',
        ]
          .filter(Boolean)
          .join('; '),
      };
    }
    const m = s.measurement!;
    const viaCache = s.cachedByApp && s.mix !== 'varied';
    // Little's law: 50 requests always in flight within p99 ms need about 50 / p99 per ms.
    const needed = (atL!.settings.connections * 1000) / p99;
    return {
      target,
      verdict: m.latencyMs.p99 < p99 ? 'met' : 'not met',
      detail:
        `p99 ${ms(m.latencyMs.p99)} ms at ${num(m.rps)} req/s` +
        `${s.alone ? `; one request alone: p50 ${ms(s.alone.p50)} ms` : ''}` +
        `; under ${p99} ms at ${atL!.settings.connections} connections needs roughly ${num(needed)} req/s` +
        `${viaCache ? ' (mostly answered from the app cache)' : ''}`,
    };
  });
}

/** Scenarios no cache can serve, where the database does the work on every request. */
const DATABASE_BOUND = [
  'album-page-filtered',
  'search-typo',
  'notification-feed',
  'follow-mix',
  'play-ingest',
];

/**
 * PGlite against PostgreSQL at size M on the uncacheable scenarios, two ways: one request at a
 * time (the query itself) and under 50 connections (where PGlite's single connection queues).
 */
function pgliteTargets(results: RunResult[]): TargetLine[] {
  const pglite = results.find((r) => r.size === 'M' && r.target === 'pglite' && r.cache === 'memory');
  const postgres = results.find((r) => r.size === 'M' && r.target === 'postgres' && r.cache === 'memory');
  const ways = [
    {
      target: 'PGlite at size M within 2.5x of PostgreSQL, one request at a time (p50 latency, 1 connection)',
      slowdown: (a: ScenarioResult, b: ScenarioResult) => (a.alone?.p50 ?? 0) / (b.alone?.p50 || 1),
    },
    {
      target: 'PGlite at size M within 2.5x of PostgreSQL, under load (req/s at 50 connections)',
      slowdown: (a: ScenarioResult, b: ScenarioResult) =>
        b.measurement!.rps / Math.max(1, a.measurement!.rps),
    },
  ];
  return ways.map(({ target, slowdown }): TargetLine => {
    if (!pglite || !postgres) {
      return {
        target,
        verdict: 'not measured',
        detail: `no size M run on ${pglite ? 'PostgreSQL' : 'PGlite'}`,
      };
    }
    const compared = DATABASE_BOUND.flatMap((key) => {
      const a = measured(pglite, key);
      const b = measured(postgres, key);
      return a && b ? [{ key, slowdown: slowdown(a, b) }] : [];
    });
    if (!compared.length) return { target, verdict: 'not measured', detail: 'no scenario ran on both' };
    const worst = Math.max(...compared.map((c) => c.slowdown));
    return {
      target,
      verdict: worst <= 2.5 ? 'met' : 'not met',
      detail: compared.map((c) => `${c.key} ${c.slowdown.toFixed(2)}x`).join(', '),
    };
  });
}

function machineSection(results: RunResult[]): string {
  const machines = [
    ...new Map(results.map((r) => [JSON.stringify(r.machine, ['cpu', 'cores', 'ramGb', 'node', 'os']), r])),
  ];
  return [
    '| CPU | cores | RAM | Node.js | OS | runs |',
    '| --- | ---: | ---: | --- | --- | --- |',
    ...machines.map(([id, r]) => {
      const runs = results.filter(
        (x) => JSON.stringify(x.machine, ['cpu', 'cores', 'ramGb', 'node', 'os']) === id,
      );
      const dates = [...new Set(runs.map((x) => x.date.slice(0, 10)))].join(', ');
      return `| ${r.machine.cpu} | ${r.machine.cores} | ${r.machine.ramGb} GB | ${r.machine.node} | ${r.machine.os} | ${dates} |`;
    }),
  ].join('\n');
}

/** What each scenario sends, from the run that saw the most of them available. */
function scenarioSection(results: RunResult[]): string {
  const fullest = [...results].sort(
    (a, b) =>
      b.scenarios.filter((s) => s.example).length - a.scenarios.filter((s) => s.example).length ||
      SIZE_ORDER[b.size] - SIZE_ORDER[a.size],
  )[0];
  if (!fullest) return '';
  return [
    '## Scenarios',
    '',
    '| key | what | first request of a run |',
    '| --- | --- | --- |',
    ...fullest.scenarios.map((s) => `| \`${s.key}\` | ${s.title} | ${s.example ? `\`${s.example}\`` : ''} |`),
    '',
  ].join('\n');
}

export function renderReport(results: RunResult[]): string {
  const targets = [...cachedPageTargets(results), ...latencyTargets(results), ...pgliteTargets(results)];
  return [
    '# Benchmarks',
    '',
    '<!-- Generated by bench/report.ts from bench/reports/*.json and bench/results/*.json down to the hand-written marker. Do not edit that part: run the commands below. -->',
    '',
    'Every figure here was measured by `bench/` and written by it. Backbeat runs as a separate',
    'process (`node --import tsx src/main.ts serve`, `NODE_ENV=production`, `LOG_LEVEL=warn`, rate limits',
    'raised out of the way) on a generated dataset; [autocannon](https://github.com/mcollina/autocannon)',
    'drives it over 127.0.0.1 with a fixed number of connections, each sending its next request as soon as',
    'the previous one is answered. The baseline is a bare `node:http` server (`bench/baseline.ts`) answering',
    'the recorded bytes and headers of the cached album page under the same settings, in the same run: it is',
    'what this machine can serve at all, and every scenario is reported as a share of it.',
    '',
    '## Machine',
    '',
    machineSection(results),
    '',
    '## Commands',
    '',
    '```sh',
    'npm run bench:data -- --size S|M|L --target pglite|postgres [--seed N]   # generate a dataset',
    'npm run bench -- --quick                                                 # size S, PGlite, in-process cache',
    'npm run bench -- --quick --target postgres --cache redis                  # PostgreSQL (DATABASE_URL) and Redis',
    'npm run bench -- --size M --target postgres                               # full durations',
    'node --import tsx bench/report.ts --publish                               # copy results to bench/reports/, rewrite this file',
    '```',
    '',
    '`npm run bench` generates the dataset first when it is missing or was drawn for other migrations,',
    'writes `bench/results/<target>-<cache>-<size>.json` and rewrites this file from all result files.',
    'PGlite data lives in `bench/.data/<size>/`; PostgreSQL data in the database `backbeat_bench_<size>`',
    'on `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`); the Redis runs use database 11',
    'of `REDIS_URL` (default `redis://127.0.0.1:6379`), flushed before each run.',
    "`SERVER_NODE_FLAGS` passes flags to the server's Node.js, e.g. `SERVER_NODE_FLAGS=--trace-gc",
    'npm run bench -- --size L --target postgres --only album-page-filtered` (its collections go to',
    '`bench/results/server-<target>-<cache>-<size>.log`).',
    '',
    '## Caveats of these runs',
    '',
    '- The machine was shared: other engineers ran test suites on it during these runs, so figures',
    '  move between runs; the load average at the start of each run is printed with it. The baseline is',
    '  measured in the same run, which keeps the ratios more stable than the absolute figures.',
    '- The load generator runs on the same two cores as the server and takes a large part of one; a',
    '  dedicated client machine would show higher absolute throughput for both Backbeat and the baseline.',
    '- Quick mode measures each scenario for a few seconds after a one-second warm-up: enough to rank',
    '  and compare, not to resolve p99 to the last millisecond.',
    '- Each scenario is warmed up twice: the first warm-up starts what the server builds in the',
    '  background (the search index, the album directory), and once the server is idle the second',
    '  runs on it, so the measured window is the steady state. A server sees a build again after',
    '  writes to names and every few minutes (see docs/architecture.md); runs before 2026-12-02',
    '  had one warm-up and measured partly during or just after a build.',
    '- Write scenarios run last, so reads measure the generated data; their rows (follows, plays,',
    '  sessions) stay in the dataset until it is regenerated.',
    '- Each run used the shared work tree at the commit it names, which may have held other',
    "  engineers' uncommitted changes to their modules at that moment.",
    '',
    scenarioSection(results),
    '## Results',
    '',
    results.length ? results.map(runSection).join('\n') : 'No results yet: run `npm run bench -- --quick`.\n',
    '## Targets (issue 7)',
    '',
    '| target | verdict | measured |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | **${t.verdict}** | ${t.detail} |`),
    '',
    '## What the numbers mean',
    '',
    '- **req/s** is completed requests per second over the measured window; **p50/p99** are',
    '  latencies of every response in it, measured by the client, so they include queueing behind the',
    '  other connections. **p50 ms, 1 connection** comes from a short run with a single connection: what',
    '  one request costs when nothing queues.',
    '- With 50 connections each sending as soon as it is answered, a saturated server keeps about 50',
    "  requests in flight, so its mean latency is 50 / (req/s) (Little's law): a p99 under 10 ms at 50",
    '  connections needs well over 5,000 req/s of that scenario. The latency targets are therefore',
    '  throughput targets in disguise, and on this machine the load generator shares the two cores.',
    '- **of baseline req/s** divides by what the bare `node:http` server did in the same run. The',
    '  cached album page measures the framework around the cache (routing, validation, auth hook, rate',
    '  limiting, headers, serialisation): the gap to 100% is the cost of those layers per request.',
    '- **requests** says how the scenario varies its requests: *same request* is served from the',
    "  app's cache after the first; *new query each time* defeats every cache and measures the database;",
    '  *distinct requests in turn* and *popular-first* sit in between, like real traffic.',
    '- **not available** means the endpoint answered 404 `ROUTE_NOT_FOUND` (its module has not landed',
    '  yet); a scenario that ran but got unexpected statuses lists them in the last column, with',
    '  requests not answered within 10 s (counted as timeouts, so missing from the latencies).',
    '- **cold start** is spawn to first `200` on `/health` (process start, TypeScript loading through',
    '  tsx, opening and migrating the database); **RSS** is resident memory of the server process from',
    '  `/proc/<pid>/status`, idle after start, highest sample per scenario, and peak (VmHWM).',
    '- PGlite answers queries on the event loop of the one process, so its throughput is bounded by one',
    "  core shared with HTTP handling; PostgreSQL runs queries in its own processes on the machine's",
    '  other core.',
    '',
  ].join('\n');
}

/** Everything after this line of BENCHMARKS.md is written by hand (other benches) and kept. */
export const HAND_WRITTEN_MARKER =
  '<!-- Hand-written sections below (bench/media.ts, import.ts, scale.ts, ...): bench/report.ts keeps them. -->';

/** The hand-written tail of the current BENCHMARKS.md, marker included, or the marker alone. */
function handWrittenTail(): string {
  const current = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : '';
  const at = current.indexOf(HAND_WRITTEN_MARKER);
  return at === -1 ? `${HAND_WRITTEN_MARKER}\n` : current.slice(at);
}

export function writeReport(): string {
  writeFileSync(BENCHMARKS_FILE, `${renderReport(loadAllResults())}\n${handWrittenTail()}`);
  return BENCHMARKS_FILE;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--publish')) {
    mkdirSync(REPORTS_DIR, { recursive: true });
    for (const file of existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR) : []) {
      if (file.endsWith('.json')) copyFileSync(join(RESULTS_DIR, file), join(REPORTS_DIR, file));
    }
    // The copies are committed, and the repository's lint formats every JSON file it holds.
    execFileSync(join(BENCH_DIR, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', REPORTS_DIR], {
      stdio: 'ignore',
    });
  }
  process.stdout.write(`${writeReport()} written\n`);
}
