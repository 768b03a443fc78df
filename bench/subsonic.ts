/**
 * Subsonic client workloads on a benchmark catalog:
 *   npx tsx bench/subsonic.ts [--size M] [--target postgres|pglite] [--page 500]
 *     [--connections 16] [--seconds 15]
 * 1. Full library sync as Subsonic apps do it (Symfonium, DSub): `search3` with an empty query,
 *    songs in pages of `--page`, until a page comes back short. Reports the total time, the page
 *    count and the latency percentiles per page (one client, pages one after another).
 * 2. `getAlbumList2` (newest, frequent, alphabeticalByName, alphabeticalByArtist, random, in
 *    turn) under `--connections` concurrent clients for `--seconds`: requests/s and p50/p99.
 * The dataset is the load suite's (`npm run bench:data`, generated when missing or stale); the
 * server is a real process on the built catalog, signed in with an app password of the
 * dataset's user account.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ACCOUNTS, BENCH_PASSWORD, type Size } from './dataset/plan.js';
import { pgliteDataDir, postgresUrl } from './dataset/sql.js';
import { measure } from './load.js';
import { freePort, startService } from './processes.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'M' },
    target: { type: 'string', default: 'postgres' },
    page: { type: 'string', default: '500' },
    connections: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '15' },
  },
});
const size = values.size as Size;
const target = values.target as 'postgres' | 'pglite';
const pageSize = Number(values.page);

const generated = spawnSync(
  'npx',
  ['tsx', 'bench/data.ts', '--size', size, '--target', target, '--if-stale'],
  { stdio: 'inherit' },
);
if (generated.status !== 0) throw new Error('dataset generation failed');

const scratch = mkdtempSync(join(tmpdir(), 'backbeat-bench-subsonic-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = await startService(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts', 'serve'],
  {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '1000000000',
    RATE_LIMIT_AUTH_MAX: '1000000000',
    ADMIN_EMAIL: '',
    ADMIN_PASSWORD: '',
    DATA_DIR: target === 'pglite' ? pgliteDataDir(size) : join(scratch, 'data'),
    DATABASE_URL: target === 'postgres' ? postgresUrl(size) : '',
    REDIS_URL: '',
  },
  `${base}/health`,
  join(scratch, 'server.log'),
);

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;
const round = (n: number) => Math.round(n * 10) / 10;

try {
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: BENCH_ACCOUNTS.user, password: BENCH_PASSWORD }),
  });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const created = await fetch(`${base}/api/v1/me/app-passwords`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ name: 'bench' }),
  });
  const { password } = (await created.json()) as { password: string };
  const auth = `u=${encodeURIComponent(BENCH_ACCOUNTS.user)}&p=${encodeURIComponent(password)}&v=1.16.1&c=bench&f=json`;

  // 1. Full sync.
  const pageMs: number[] = [];
  let songs = 0;
  const syncStarted = performance.now();
  for (let offset = 0; ; offset += pageSize) {
    const started = performance.now();
    const res = await fetch(
      `${base}/rest/search3?${auth}&query=&artistCount=0&albumCount=0&songCount=${pageSize}&songOffset=${offset}`,
    );
    const body = (await res.json()) as {
      'subsonic-response': { status: string; searchResult3?: { song?: unknown[] } };
    };
    pageMs.push(performance.now() - started);
    const page = body['subsonic-response'].searchResult3?.song ?? [];
    if (body['subsonic-response'].status !== 'ok') throw new Error(`search3: ${JSON.stringify(body)}`);
    songs += page.length;
    if (page.length < pageSize) break;
  }
  const syncMs = performance.now() - syncStarted;
  const sorted = [...pageMs].sort((a, b) => a - b);

  // 2. getAlbumList2 under load.
  const types = ['newest', 'frequent', 'alphabeticalByName', 'alphabeticalByArtist', 'random'];
  const load = await measure(
    base,
    types.map((type) => ({
      method: 'GET' as const,
      path: `/rest/getAlbumList2?${auth}&type=${type}&size=50`,
    })),
    { connections: Number(values.connections), seconds: Number(values.seconds), expect: [200] },
  );

  console.log(
    JSON.stringify(
      {
        size,
        target,
        loadAverage: loadavg().map((n) => round(n)),
        search3FullSync: {
          songs,
          pages: pageMs.length,
          pageSize,
          totalSeconds: round(syncMs / 1000),
          pageMs: {
            p50: round(percentile(sorted, 50)),
            p99: round(percentile(sorted, 99)),
            max: round(sorted.at(-1)!),
          },
        },
        getAlbumList2: {
          connections: Number(values.connections),
          rps: round(load.rps),
          latencyMs: load.latencyMs,
          unexpected: load.unexpected,
          errors: load.errors,
        },
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}
