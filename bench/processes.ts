import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadJob, LoadResult } from './plays-load.js';

/** A port the kernel just handed out, so runs never collide with servers already listening. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A field of /proc/<pid>/status in MB (VmRSS: resident now; VmHWM: the peak so far). */
export function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** CPU time (user and system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Service {
  child: ChildProcess;
  pid: number;
  /** Milliseconds from spawn to the first 200 on the health URL. */
  startMs: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * Spawns a server process (output appended to `logFile`) and polls `healthUrl` until it
 * answers 200; fails if the process exits first or does not answer within two minutes.
 */
export async function startService(
  command: string,
  args: string[],
  env: Record<string, string>,
  healthUrl: string,
  logFile: string,
): Promise<Service> {
  const log = createWriteStream(logFile, { flags: 'a' });
  const spawned = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const stop = async () => {
    if (exited === undefined) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
    }
    log.end();
  };
  while (performance.now() - spawned < START_TIMEOUT_MS) {
    if (exited !== undefined) throw new Error(`${args.join(' ')} exited with ${exited} (see ${logFile})`);
    try {
      const response = await fetch(healthUrl);
      await response.arrayBuffer();
      if (response.status === 200) {
        return { child, pid: child.pid!, startMs: Math.round(performance.now() - spawned), stop };
      }
    } catch {
      // Not listening yet.
    }
    await sleep(20);
  }
  await stop();
  throw new Error(`${args.join(' ')} did not become healthy within ${START_TIMEOUT_MS / 1000} s`);
}

/** Samples a process's resident memory while a load runs; `stop` returns the highest sample. */
export function sampleRss(pid: number, everyMs = 200): { stop(): number } {
  let highest = memoryMb(pid, 'VmRSS');
  const timer = setInterval(() => {
    highest = Math.max(highest, memoryMb(pid, 'VmRSS'));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(highest, memoryMb(pid, 'VmRSS'));
    },
  };
}

/** Runs one load job in a forked process (bench/plays-load.ts), so it has its own event loop. */
export function driveLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./plays-load.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
    child.once('message', (result) => resolve(result as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the load generator exited with ${code}`));
    });
    child.send(job);
  });
}
