import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The DATA_DIR lock between real processes: each child process takes the lock at the same
 * wall-clock instant, says whether it got it, and keeps it until the test releases it.
 */
const ROOT = new URL('../..', import.meta.url).pathname;

interface Contender {
  /** What the process says: `locked`, `refused` or `error ...`. */
  result: Promise<string>;
  /** Ends the process (a holder keeps the lock until then). */
  release(): Promise<void>;
}

/** A process that takes the lock at `startAt` and keeps what it got until released. */
function contender(dataDir: string, startAt: number): Contender {
  const script = `
    import { lockDataDir } from './src/platform/datadir-lock.ts';
    while (Date.now() < ${startAt}) {}
    try {
      lockDataDir(${JSON.stringify(dataDir)});
      console.log('locked');
    } catch (error) {
      console.log(error.name === 'DataDirLockedError' ? 'refused' : 'error ' + error.message);
    }
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));`;
  const child = spawn('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  let output = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const result = new Promise<string>((resolve) => {
    child.stdout.on('data', (d) => {
      output += d;
      if (output.includes('\n')) resolve(output.trim());
    });
    child.stderr.on('data', (d) => (output += d));
    exited.then(() => resolve(output.trim()));
  });
  return {
    result,
    release: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * Starts `count` contenders that all try at once, a few seconds from now (they load first).
 * Every holder keeps the lock until all have answered, so a late starter cannot take over a
 * lock whose holder already exited.
 */
async function race(dataDir: string, count: number): Promise<string[]> {
  const startAt = Date.now() + 3000;
  const contenders = Array.from({ length: count }, () => contender(dataDir, startAt));
  const results = await Promise.all(contenders.map((c) => c.result));
  await Promise.all(contenders.map((c) => c.release()));
  return results;
}

/** One contender, started now; its result once it has released the lock again. */
async function once(dataDir: string): Promise<string> {
  const c = contender(dataDir, 0);
  const result = await c.result;
  await c.release();
  return result;
}

/** A pid that certainly ran once and does not run now. */
async function deadPid(): Promise<number> {
  const child = spawn('node', ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

let dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'backbeat-lock-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('DATA_DIR lock', () => {
  it('goes to exactly one of several processes starting at once', async () => {
    for (let round = 0; round < 2; round++) {
      const results = await race(freshDir(), 4);
      expect(
        results.filter((r) => r === 'locked'),
        results.join(','),
      ).toHaveLength(1);
      expect(results.filter((r) => r === 'refused')).toHaveLength(3);
    }
  }, 60_000);

  it('is taken over by exactly one process when its holder died', async () => {
    for (let round = 0; round < 2; round++) {
      const dir = freshDir();
      writeFileSync(join(dir, 'backbeat.lock'), JSON.stringify({ pid: await deadPid() }));
      const results = await race(dir, 4);
      expect(
        results.filter((r) => r === 'locked'),
        results.join(','),
      ).toHaveLength(1);
      expect(results.filter((r) => r === 'refused')).toHaveLength(3);
    }
  }, 60_000);

  it('is not held by an unrelated process that got the recorded pid later', async () => {
    const dir = freshDir();
    // This test process runs, but it is not the process that wrote this lock: it started later.
    writeFileSync(join(dir, 'backbeat.lock'), JSON.stringify({ pid: process.pid, startTime: '1' }));
    expect(await once(dir)).toBe('locked');
    expect(JSON.parse(readFileSync(join(dir, 'backbeat.lock'), 'utf8')).pid).not.toBe(process.pid);
  }, 30_000);

  it('is not held by an unrelated program behind the pid of an old lock that names a pid alone', async () => {
    // Locks written before start times were recorded hold the pid alone; the pid is recycled.
    const sleeper = spawn('sleep', ['30']);
    try {
      const dir = freshDir();
      writeFileSync(join(dir, 'backbeat.lock'), String(sleeper.pid));
      expect(await once(dir)).toBe('locked');
      // A Node process behind such a pid may be the server that wrote it: the lock holds.
      const held = freshDir();
      writeFileSync(join(held, 'backbeat.lock'), String(process.pid));
      expect(await once(held)).toBe('refused');
    } finally {
      sleeper.kill();
    }
  }, 30_000);

  it('is held by a running process it names', async () => {
    const dir = freshDir();
    const startTime = readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    writeFileSync(join(dir, 'backbeat.lock'), JSON.stringify({ pid: process.pid, startTime }));
    expect(await once(dir)).toBe('refused');
  }, 30_000);
});
