import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The DATA_DIR lock between real processes: each child process takes the lock at the same
 * wall-clock instant, holds it for a while, and says whether it got it.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const HOLD_MS = 1500;

function contender(dataDir: string, startAt: number): Promise<string> {
  const script = `
    import { lockDataDir } from './src/platform/datadir-lock.ts';
    while (Date.now() < ${startAt}) {}
    try {
      lockDataDir(${JSON.stringify(dataDir)});
      console.log('locked');
      setTimeout(() => {}, ${HOLD_MS});
    } catch (error) {
      console.log(error.name === 'DataDirLockedError' ? 'refused' : 'error ' + error.message);
    }`;
  const child = spawn('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('exit', () => resolve(output.trim())));
}

/** Starts `count` contenders that all try at once, about two seconds from now (they load first). */
function race(dataDir: string, count: number): Promise<string[]> {
  const startAt = Date.now() + 2500;
  return Promise.all(Array.from({ length: count }, () => contender(dataDir, startAt)));
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
    expect(await contender(dir, 0)).toBe('locked');
    expect(JSON.parse(readFileSync(join(dir, 'backbeat.lock'), 'utf8')).pid).not.toBe(process.pid);
  }, 30_000);

  it('is held by a running process it names', async () => {
    const dir = freshDir();
    const startTime = readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    writeFileSync(join(dir, 'backbeat.lock'), JSON.stringify({ pid: process.pid, startTime }));
    expect(await contender(dir, 0)).toBe('refused');
  }, 30_000);
});
