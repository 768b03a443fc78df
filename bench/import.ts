/**
 * Music folder import figures:
 *   npx tsx bench/import.ts [--files N] [--folder DIR]
 * Generates a library of N tiny tagged MP3s (one 0.5 s tone, copied with different tags by
 * `ffmpeg -c copy`, 20 tracks an album, 10 albums an artist) unless --folder names one, then
 * scans it twice in this process on a fresh embedded database: the first scan (tag reading,
 * catalog writes) and an unchanged rescan (one stat a file). Prints files per minute of each
 * and the peak RSS. Transcoding is off: only the scan is measured.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { importFolder, resolveFfmpeg } from '../src/modules/media/index.js';
import { createCacheStore } from '../src/platform/cache.js';
import { fromPglite, migrateDatabase, openPglite } from '../src/platform/db.js';

const { values } = parseArgs({
  options: { files: { type: 'string', default: '1000' }, folder: { type: 'string' } },
});
const ffmpeg = resolveFfmpeg(undefined);

function generate(count: number): string {
  const root = mkdtempSync(join(tmpdir(), 'backbeat-bench-music-'));
  const seed = join(root, 'seed.mp3');
  execFileSync(ffmpeg, [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=duration=0.5',
    '-ac',
    '2',
    '-b:a',
    '64k',
    seed,
  ]);
  for (let i = 0; i < count; i++) {
    const album = Math.floor(i / 20);
    const artist = Math.floor(album / 10);
    const dir = join(root, `Artist ${artist}`, `Album ${album}`);
    if (i % 20 === 0) mkdirSync(dir, { recursive: true });
    const tags = {
      artist: `Artist ${artist}`,
      album: `Album ${album}`,
      title: `Song ${i}`,
      track: String((i % 20) + 1),
      date: '2001',
      genre: 'Bench',
    };
    const args = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
    execFileSync(ffmpeg, [
      '-v',
      'error',
      '-y',
      '-i',
      seed,
      '-c',
      'copy',
      ...args,
      join(dir, `${(i % 20) + 1} - Song ${i}.mp3`),
    ]);
  }
  rmSync(seed);
  return root;
}

const count = Number(values.files);
const folder = values.folder ?? generate(count);
const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-bench-import-'));
const database = fromPglite(await openPglite(undefined));
await migrateDatabase(database, undefined);
const config = {
  ...loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
    DEMO_DATA: 'false',
  }),
  logLevel: 'error',
  transcodeConcurrency: 0,
};
const app = await buildApp(config, { database, cacheStore: createCacheStore(undefined) });
await app.ready();
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() }) as unknown as NodeJS.WriteStream;

for (const run of ['first scan', 'unchanged rescan']) {
  const started = performance.now();
  const scan = await importFolder(app.services.library, folder, { full: false, out: quiet });
  const seconds = (performance.now() - started) / 1000;
  const perMinute = Math.round((scan.total / seconds) * 60);
  process.stdout.write(
    `${run}: ${scan.total} files in ${seconds.toFixed(1)} s = ${perMinute} files/min (added ${scan.added}, unchanged ${scan.unchanged}, failed ${scan.failed})\n`,
  );
}
process.stdout.write(`peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`);
await app.close();
await database.close();
rmSync(dataDir, { recursive: true, force: true });
if (!values.folder) rmSync(folder, { recursive: true, force: true });
