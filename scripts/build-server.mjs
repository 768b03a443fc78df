// `npm start` runs the server as compiled JavaScript from dist/, so a start pays neither for
// transpiling every module (tsx) nor for type-checking (tsc). This script (`prestart`) brings
// dist/ up to date with src/ first: when any source is newer than the last build, it bundles
// src/main.ts with esbuild (a dependency, so always installed; a second or two), and otherwise
// does nothing. Types are checked by `npm run typecheck`, not here.
//
// The bundle takes in the dependencies too. Loading Fastify, ajv, TypeBox, drizzle and the
// rest as some 900 separate files cost about a second of CPU at every start; one bundled file
// costs about a third of that (figures in docs/architecture.md). The application itself is
// split into a chunk that main.js imports while the embedded database opens, as before.
// `npm run build` (tsc) still mirrors src/ into dist/ file by file for those who prefer that.
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

/**
 * Packages left in node_modules and loaded from there: they find files of their own beside
 * their code at run time (WebAssembly, native addons, binaries, static files, their
 * package.json), which a bundle moved into dist/ would not have; or they are build tools that
 * serving never loads.
 */
const EXTERNAL = [
  '@electric-sql/pglite', // postgres.wasm and its data files
  '@node-rs/argon2', // native addon
  'sharp', // native addon
  '@ffmpeg-installer/ffmpeg', // the ffmpeg binary's path
  '@fastify/swagger', // reads its package.json
  '@fastify/swagger-ui', // serves its static files
  'socket.io', // serves the client bundle from its own folder
  'esbuild',
  'vite',
];

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
  // The search index's worker thread is a file of its own, beside main.js (search-index.ts finds it).
  entryPoints: {
    main: join(SRC, 'main.ts'),
    'search-worker': join(SRC, 'modules', 'catalog', 'search-worker.ts'),
  },
  outdir: DIST,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: EXTERNAL,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Bundled CommonJS packages call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
process.stdout.write(
  `server bundled into ${relative(process.cwd(), DIST) || '.'}/ (${files.length} source files, ${Math.round(performance.now() - started)} ms)\n`,
);
