// `npm start` runs the server as compiled JavaScript from dist/, so a start pays neither for
// transpiling every module (tsx) nor for type-checking (tsc). This script (`prestart`) brings
// dist/ up to date with src/ first: when any source is newer than the last build, it transpiles
// src/ file by file with esbuild (a dependency of tsx, so always installed; about a second), and
// otherwise does nothing. The layout of dist/ mirrors src/, as `npm run build` (tsc) makes it.
// Types are checked by `npm run typecheck`, not here.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
/** Written last by a complete build; its time is the build's. */
const STAMP = join(DIST, '.built-from-src');
/** Besides the sources, what changes the output. */
const INPUTS = [join(ROOT, 'package.json'), join(ROOT, 'tsconfig.json'), fileURLToPath(import.meta.url)];

const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');

function walk(dir, files = [], dirs = []) {
  dirs.push(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, files, dirs);
    else if (isSource(entry.name)) files.push(path);
  }
  return { files, dirs };
}

const { files, dirs } = walk(SRC);
const builtAt = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
// A directory's time moves when a file in it is added, removed or renamed.
const newest = Math.max(...[...files, ...dirs, ...INPUTS].map((path) => statSync(path).mtimeMs));
if (builtAt && newest <= builtAt && process.argv[2] !== '--force') process.exit(0);

const started = performance.now();
const { build } = await import('esbuild');
rmSync(DIST, { recursive: true, force: true });
await build({
  entryPoints: files,
  outdir: DIST,
  outbase: SRC,
  bundle: false,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
process.stdout.write(
  `server compiled to ${relative(process.cwd(), DIST) || '.'}/ (${files.length} files, ${Math.round(performance.now() - started)} ms)\n`,
);
