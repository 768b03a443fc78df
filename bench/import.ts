/**
 * Music folder import figures:
 *   npx tsx bench/import.ts [--files N] [--folder DIR] [--database-url postgres://.../postgres]
 *     [--remove M]
 * Scans a library of N tiny tagged MP3s twice in this process on a fresh database (embedded
 * PGlite in a new DATA_DIR under /tmp, or a new database on the PostgreSQL server `--database-url` names, dropped after): the
 * first scan (tag reading, catalog writes) and an unchanged rescan (one stat a file). With
 * `--remove M`, the first M files in path order (whole albums, mostly) are then moved aside and
 * a third scan forgets them (songs and emptied albums deleted); the files are moved back after.
 * Prints
 * files per minute of each, the peak RSS of this process (PGlite runs inside it; a PostgreSQL
 * server's memory is not counted) and the machine's load average, which other work shares.
 *
 * The library (unless --folder names one) is made once and kept under /tmp: three ffmpeg tones
 * without tags, each file one of them behind an ID3v2.3 tag this script writes (10 tracks an
 * album, 10 albums an artist, every tenth album a "Various Artists" compilation whose tracks
 * keep their own artists). Transcoding is off: only the scan is measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { importFolder, resolveFfmpeg } from '../src/modules/media/index.js';
import { createCacheStore } from '../src/platform/cache.js';
import { type Database, fromPglite, fromPostgres, migrateDatabase, openPglite } from '../src/platform/db.js';
import { id3 } from '../test/audio.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    folder: { type: 'string' },
    'database-url': { type: 'string' },
    remove: { type: 'string', default: '0' },
  },
});
const TRACKS = 10;
const ALBUMS_PER_ARTIST = 10;

function generate(count: number): string {
  const root = join(tmpdir(), `backbeat-bench-library-${count}`);
  if (existsSync(join(root, '.complete'))) return root;
  rmSync(root, { recursive: true, force: true });
  const building = `${root}.building`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const ffmpeg = resolveFfmpeg(undefined);
  const seeds = [0.4, 0.5, 0.6].map((seconds, i) => {
    const file = join(building, `seed${i}.mp3`);
    execFileSync(ffmpeg, [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${440 + 110 * i}:duration=${seconds}`],
      ...['-ac', '2', '-b:a', '64k', '-id3v2_version', '0', '-write_xing', '1', file],
    ]);
    const bytes = readFileSync(file);
    rmSync(file);
    return bytes;
  });
  for (let i = 0; i < count; i++) {
    const album = Math.floor(i / TRACKS);
    const artist = Math.floor(album / ALBUMS_PER_ARTIST);
    const track = (i % TRACKS) + 1;
    const compilation = album % 10 === 9;
    const dir = compilation
      ? join(building, 'Compilations', `Hits ${album}`)
      : join(building, `Artist ${artist}`, `Album ${album}`);
    if (track === 1) mkdirSync(dir, { recursive: true });
    const tags: Record<string, string> = {
      TPE1: compilation ? `Singer ${i % 250}` : `Artist ${artist}`,
      TALB: compilation ? `Hits ${album}` : `Album ${album}`,
      TIT2: `Song ${i}`,
      TRCK: `${track}/${TRACKS}`,
      TYER: String(1970 + (album % 50)),
      TCON: ['Rock', 'Jazz', 'Pop', 'Folk'][album % 4] as string,
      ...(compilation ? { TPE2: 'Various Artists', TCMP: '1' } : {}),
    };
    writeFileSync(
      join(dir, `${String(track).padStart(2, '0')} - Song ${i}.mp3`),
      Buffer.concat([id3(tags), seeds[i % seeds.length] as Buffer]),
    );
  }
  renameSync(building, root);
  writeFileSync(join(root, '.complete'), '');
  return root;
}

/**
 * A fresh database: embedded in a new DATA_DIR on disk (as `npm run import` and the server keep
 * it), or a new one on the server the URL names.
 */
async function freshDatabase(
  url: string | undefined,
  dataDir: string,
): Promise<{ database: Database; drop(): Promise<void> }> {
  if (!url) {
    const database = fromPglite(await openPglite(dataDir));
    await migrateDatabase(database, undefined);
    return { database, drop: async () => {} };
  }
  const name = `backbeat_bench_import_${process.pid}`;
  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(query);
    await client.end();
  };
  await admin(`create database ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  const database = fromPostgres(target.toString(), 10);
  await migrateDatabase(database, target.toString());
  return { database, drop: () => admin(`drop database if exists ${name} with (force)`) };
}

const count = Number(values.files);
const generating = performance.now();
const folder = values.folder ?? generate(count);
const made = ((performance.now() - generating) / 1000).toFixed(1);
const dataDir = join(tmpdir(), `backbeat-bench-import-${process.pid}`);
const { database, drop } = await freshDatabase(values['database-url'], dataDir);
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
const load = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(' ');

process.stdout.write(
  `database: ${values['database-url'] ? 'PostgreSQL' : 'PGlite'}; library: ${folder} (ready in ${made} s); load average ${load()}\n`,
);
/**
 * Where the resident memory is now: the JavaScript heap (used of allocated) and memory outside it
 * (mostly PGlite's WebAssembly heap). Under `node --expose-gc` (NODE_OPTIONS) garbage is collected
 * first, so "used" is what is live.
 */
function memory(): string {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return `RSS ${mb(m.rss)} MB, JS heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB`;
}

async function run(name: string): Promise<void> {
  const started = performance.now();
  const scan = await importFolder(app.services.library, folder, { full: false, out: quiet });
  const seconds = (performance.now() - started) / 1000;
  const perMinute = Math.round((scan.total / seconds) * 60);
  process.stdout.write(
    `${name}: ${scan.total} files in ${seconds.toFixed(1)} s = ${perMinute} files/min (added ${scan.added}, unchanged ${scan.unchanged}, removed ${scan.removed}, failed ${scan.failed}); peak RSS so far ${Math.round(process.resourceUsage().maxRSS / 1024)} MB (now: ${memory()}); load average ${load()}\n`,
  );
}

/** Where removed files wait to be put back (also after a run that died before doing so). */
const aside = `${folder}.removed`;
function putBack(): void {
  if (!existsSync(aside)) return;
  for (const path of readdirSync(aside, { recursive: true, encoding: 'utf8' })) {
    if (!path.endsWith('.mp3')) continue;
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    renameSync(join(aside, path), join(folder, path));
  }
  rmSync(aside, { recursive: true, force: true });
}
putBack();

await run('first scan');
await run('unchanged rescan');
const removing = Number(values.remove);
if (removing > 0) {
  const files = readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.mp3'))
    .sort()
    .slice(0, removing);
  for (const path of files) {
    mkdirSync(dirname(join(aside, path)), { recursive: true });
    renameSync(join(folder, path), join(aside, path));
  }
  try {
    await run(`rescan after removing ${files.length} files`);
  } finally {
    putBack();
  }
}
await app.close();
await database.close();
await drop();
rmSync(dataDir, { recursive: true, force: true });
