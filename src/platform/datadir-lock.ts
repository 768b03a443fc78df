import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * Who holds the lock. A pid alone is not an identity: pids are recycled (after a reboot, and
 * in every container, whose server is always pid 1 or close), so the lock also records when
 * that process started and which boot it belongs to, where the system tells (Linux `/proc`).
 */
interface Holder {
  pid: number;
  startTime?: string;
  bootId?: string;
}

const ATTEMPTS = 5;

/**
 * Takes an exclusive lock on the data directory. PGlite has no locking of its own and two
 * processes on one directory corrupt it, so a second server must refuse to start instead.
 * The lock file appears atomically with its content (written to a private file, then hard
 * linked into place, which fails if the name exists), so no one can read a half-written lock
 * as stale. A lock whose holder no longer runs is taken over; a lock whose pid now belongs to
 * another process (started later, or in another boot) is stale too.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'backbeat.lock');
  const mine = JSON.stringify(currentHolder());
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (createExclusively(lockPath, mine)) return () => releaseIfMine(lockPath, mine);
    const content = readIfExists(lockPath);
    if (content === undefined) continue;
    const holder = parseHolder(content);
    if (holder && holder.pid !== process.pid && isAlive(holder)) {
      throw new DataDirLockedError(
        `DATA_DIR ${join(dataDir)} is in use by another Backbeat process (pid ${holder.pid}). ` +
          'Stop it, or give this one its own DATA_DIR or a DATABASE_URL.',
      );
    }
    removeStale(lockPath, content);
  }
  throw new DataDirLockedError(`could not lock DATA_DIR ${dataDir}: other processes keep taking it`);
}

/** Creates `path` with `content` in one step; false when it already exists. */
function createExclusively(path: string, content: string): boolean {
  const staged = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(staged, content, { flag: 'wx' });
  try {
    linkSync(staged, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(staged, { force: true });
  }
}

/**
 * Removes a lock judged stale, unless someone replaced it meanwhile: the lock is renamed aside
 * (atomic, so of two processes only one gets the stale file) and put back if it turns out to
 * be a newer one.
 */
function removeStale(lockPath: string, staleContent: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') !== staleContent) linkSync(aside, lockPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Deletes the lock on shutdown, but never one that another process took over since. */
function releaseIfMine(lockPath: string, mine: string): void {
  if (readIfExists(lockPath) === mine) rmSync(lockPath, { force: true });
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The JSON this module writes, or a bare pid (older versions); anything else is no holder. */
function parseHolder(content: string): Holder | undefined {
  const text = content.trim();
  if (/^[0-9]+$/.test(text)) return { pid: Number(text) };
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    return typeof value.pid === 'number' && value.pid > 0 ? (value as Holder) : undefined;
  } catch {
    return undefined;
  }
}

function currentHolder(): Holder {
  const startTime = processStartTime(process.pid);
  const bootId = readIfExistsQuietly('/proc/sys/kernel/random/boot_id')?.trim();
  return { pid: process.pid, ...(startTime ? { startTime } : {}), ...(bootId ? { bootId } : {}) };
}

/** The holder's process still runs: same pid, and (where known) same boot and start time. */
function isAlive(holder: Holder): boolean {
  if (!isRunning(holder.pid)) return false;
  const bootId = readIfExistsQuietly('/proc/sys/kernel/random/boot_id')?.trim();
  if (holder.bootId && bootId && holder.bootId !== bootId) return false;
  if (!holder.startTime) return !runsSomethingElse(holder.pid);
  const startTime = processStartTime(holder.pid);
  return !(startTime && holder.startTime !== startTime);
}

/**
 * A lock that names a pid alone (written before locks recorded start times) cannot tell its
 * writer from a later process with that pid; where the system says what the process runs, one
 * that is not Node (a shell, a database, init) did not write it.
 */
function runsSomethingElse(pid: number): boolean {
  const command = readIfExistsQuietly(`/proc/${pid}/cmdline`);
  if (command === undefined) return false;
  const program = basename(command.split('\0')[0] ?? '');
  return !/node|backbeat/i.test(program);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of `/proc/<pid>/stat` (clock ticks after boot); the name before it may hold spaces. */
function processStartTime(pid: number): string | undefined {
  const stat = readIfExistsQuietly(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** Reads a file that may not exist on this system (`/proc` is Linux only). */
function readIfExistsQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
