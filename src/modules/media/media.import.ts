import { resolve } from 'node:path';
import type { LibraryService, ScanView } from './media.scanner.js';
import { ScanRunningError } from './media.scanner.js';

const POLL_MS = 250;

/** The summary a finished import prints: one row per count. */
export function scanSummary(scan: ScanView, seconds: number): string {
  const rows: [string, string | number][] = [
    ['status', scan.status],
    ['files', scan.total],
    ['added', scan.added],
    ['updated', scan.updated],
    ['unchanged', scan.unchanged],
    ['removed', scan.removed],
    ['failed', scan.failed],
    ['time', `${seconds.toFixed(1)} s`],
    ['rate', `${Math.round((scan.processed / Math.max(seconds, 0.001)) * 60)} files/min`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
  const errors = scan.errors.slice(0, 20).map((e) => `  ${e.code.padEnd(22)} ${e.path}`);
  const more = scan.failed > errors.length ? [`  ... ${scan.failed - errors.length} more`] : [];
  return `${lines.join('\n')}\n${errors.length ? `failures:\n${[...errors, ...more].join('\n')}\n` : ''}`;
}

/**
 * `npm run import -- <folder>`: the same scan job the admin API queues, run by this process
 * with a progress bar (files, rate, ETA). Resolves to the finished scan.
 */
export async function importFolder(
  library: LibraryService,
  folder: string,
  options: { full: boolean; out: NodeJS.WriteStream },
): Promise<ScanView> {
  let scan: ScanView;
  try {
    scan = await library.startScan({ root: resolve(folder), full: options.full });
  } catch (error) {
    if (!(error instanceof ScanRunningError)) throw error;
    // A scan left by an interrupted run (or asked for by an admin) resumes here.
    scan = error.scan;
    options.out.write(`a scan is already under way (${scan.id}); following it\n`);
  }
  // Elapsed time for the rate and the summary: a monotonic timer, not the business clock.
  const started = performance.now();
  // Loaded here: only `npm run import` draws a progress bar, a server never does.
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format:
        'importing |{bar}| {percentage}% | {value}/{total} files | {rate} files/s | ETA {eta_formatted}',
      stream: options.out,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(0, 0, { rate: '0' });
  try {
    while (scan.status === 'queued' || scan.status === 'running') {
      await new Promise((r) => setTimeout(r, POLL_MS));
      scan = await library.getScan(scan.id);
      const rate = scan.processed / Math.max((performance.now() - started) / 1000, 0.001);
      bar.setTotal(scan.total);
      bar.update(scan.processed, { rate: rate.toFixed(0) });
    }
  } finally {
    bar.stop();
  }
  options.out.write(scanSummary(scan, (performance.now() - started) / 1000));
  return scan;
}
