/**
 * Media figures, each against a baseline measured in the same run:
 * 1. Transcode speed: a 5-minute FLAC through the transcode job's own steps (one decode to the
 *    three MP3 renditions with loudness measured, then the HLS ladder), as multiples of real
 *    time: per wall-clock second and per CPU second of ffmpeg (per core).
 * 2. Range streaming: 200 clients reading 256 KB ranges of a 320 kbps file, as a player
 *    does, from Backbeat's signed media URL and from a bare node:http + fs.createReadStream
 *    server serving the same file: throughput, time to first byte, and Backbeat's RSS.
 *   npx tsx bench/media.ts [--seconds 20] [--clients 200]
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeRenditions, resolveFfmpeg, segmentHls } from '../src/modules/media/media.ffmpeg.js';
import { cpuSeconds, freePort, memoryMb, startService } from './processes.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '20' }, clients: { type: 'string', default: '200' } },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const ROOT = new URL('..', import.meta.url).pathname;
const ffmpeg = resolveFfmpeg(undefined);
const work = mkdtempSync(join(tmpdir(), 'backbeat-bench-media-'));

/** CPU seconds of this process's finished children (cutime + cstime in /proc/self/stat). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function transcodeFigures(source: string, audioSeconds: number) {
  const out = join(work, 'renditions');
  mkdirSync(join(out, 'hls', '64k'), { recursive: true });
  mkdirSync(join(out, 'hls', '128k'), { recursive: true });
  mkdirSync(join(out, 'hls', '320k'), { recursive: true });
  const cpuBefore = childCpuSeconds();
  const started = performance.now();
  await encodeRenditions(
    ffmpeg,
    source,
    [64, 128, 320].map((kbps) => ({ file: join(out, `${kbps}k.mp3`), kbps })),
  );
  const encodedMs = performance.now() - started;
  for (const kbps of [64, 128, 320])
    await segmentHls(ffmpeg, join(out, `${kbps}k.mp3`), join(out, 'hls', `${kbps}k`), 6);
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = childCpuSeconds() - cpuBefore;
  return {
    wallSeconds,
    encodeSeconds: encodedMs / 1000,
    cpuSeconds: cpu,
    realTimeWall: audioSeconds / wallSeconds,
    realTimePerCore: audioSeconds / cpu,
  };
}

interface LoadResult {
  requests: number;
  bytes: number;
  errors: number;
  ttfbMs: { p50: number; p99: number };
  seconds: number;
}

function runLoad(url: string, size: number, onSample: () => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(
      join(ROOT, 'bench/media-load.ts'),
      [url, String(size), String(CLIENTS), String(SECONDS)],
      {
        execArgv: ['--import', 'tsx'],
      },
    );
    const sampler = setInterval(onSample, 500);
    child.on('message', (result) => {
      clearInterval(sampler);
      resolve(result as LoadResult);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code) reject(new Error(`load generator exited with ${code}`));
    });
  });
}

async function main() {
  const audioSeconds = 300;
  const source = join(work, 'five-minutes.flac');
  // Pink noise, not a sine: a FLAC of realistic size and a fair amount of work for the encoder.
  execFileSync(ffmpeg, [
    ...[
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `anoisesrc=color=pink:duration=${audioSeconds}:amplitude=0.3`,
    ],
    ...['-ac', '2', '-ar', '44100', '-c:a', 'flac', source],
  ]);
  const transcode = await transcodeFigures(source, audioSeconds);

  // Backbeat on its embedded database, the file uploaded through the API.
  const dataDir = join(work, 'data');
  const port = await freePort();
  const admin = { email: 'bench@example.test', password: 'bench-password-123' };
  const server = await startService(
    'node',
    ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'serve'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      RATE_LIMIT_MAX: '100000000',
    },
    `http://127.0.0.1:${port}/health`,
    join(work, 'server.log'),
  );
  const base = `http://127.0.0.1:${port}/api/v1`;
  // biome-ignore lint/suspicious/noExplicitAny: the bench reads a few known fields.
  const json = async (path: string, init: RequestInit = {}): Promise<any> =>
    (await fetch(`${base}${path}`, init)).json();
  const { accessToken } = await json('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(admin),
  });
  const auth = { authorization: `Bearer ${accessToken}` };
  const jsonAuth = { ...auth, 'content-type': 'application/json' };
  const album = await json('/albums', {
    method: 'POST',
    headers: jsonAuth,
    body: JSON.stringify({ title: 'Bench', artistName: 'Bench', genre: 'Noise', releaseYear: 2026 }),
  });
  const song = await json(`/albums/${album.id}/songs`, {
    method: 'POST',
    headers: jsonAuth,
    body: JSON.stringify({ title: 'Pink', durationMs: 300_000 }),
  });
  await fetch(`${base}/songs/${song.id}/audio`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'audio/flac' },
    body: new Uint8Array(readFileSync(source)),
  });
  for (;;) {
    const state = await json(`/songs/${song.id}`);
    if (state.audio.status === 'ready') break;
    if (state.audio.status === 'failed') throw new Error('transcode failed');
    await new Promise((r) => setTimeout(r, 250));
  }
  const redirect = await fetch(`${base}/songs/${song.id}/stream?quality=high`, {
    headers: auth,
    redirect: 'manual',
  });
  const signedUrl = `http://127.0.0.1:${port}${redirect.headers.get('location')}`;
  const hash = /audio\/([0-9a-f]{64})\//.exec(signedUrl)?.[1] as string;
  const file = join(dataDir, 'media', 'derived', hash.slice(0, 2), hash, '320k.mp3');
  const size = statSync(file).size;

  const basePort = await freePort();
  const baseline = await startService(
    'node',
    ['--import', 'tsx', join(ROOT, 'bench/media-baseline.ts'), file, String(basePort)],
    {},
    `http://127.0.0.1:${basePort}/health`,
    join(work, 'baseline.log'),
  );

  const rss: number[] = [];
  const cpuStart = cpuSeconds(server.pid);
  const backbeat = await runLoad(signedUrl, size, () => rss.push(memoryMb(server.pid, 'VmRSS')));
  const serverCpu = cpuSeconds(server.pid) - cpuStart;
  const bare = await runLoad(`http://127.0.0.1:${basePort}/file.mp3`, size, () => {});
  await baseline.stop();
  await server.stop();

  const mbps = (r: LoadResult) => r.bytes / 1024 / 1024 / r.seconds;
  const report = {
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    machine: `${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end`,
    transcode: {
      source: `${audioSeconds} s pink-noise FLAC, ${(statSync(source).size / 1024 / 1024).toFixed(1)} MB`,
      ...Object.fromEntries(Object.entries(transcode).map(([k, v]) => [k, Number(v.toFixed(2))])),
    },
    streaming: {
      file: `320 kbps MP3, ${(size / 1024 / 1024).toFixed(1)} MB; ${CLIENTS} clients, 256 KB ranges, ${SECONDS} s each`,
      backbeat: { ...backbeat, mbPerSecond: Number(mbps(backbeat).toFixed(1)), serverCpuSeconds: serverCpu },
      bare: { ...bare, mbPerSecond: Number(mbps(bare).toFixed(1)) },
      throughputShare: Number((mbps(backbeat) / mbps(bare)).toFixed(2)),
      ttfbP99Ratio: Number((backbeat.ttfbMs.p99 / Math.max(bare.ttfbMs.p99, 0.001)).toFixed(2)),
      backbeatRssMb: { min: Math.min(...rss), max: Math.max(...rss) },
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
}

await main();
