// `npm install` / `npm ci` build the web player so `npm start` serves it at once. An install
// without development dependencies (no Vite) skips it; the server then serves the API only.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('vite/package.json');
} catch {
  console.log('web player: Vite is not installed, skipping its build');
  process.exit(0);
}
const { status } = spawnSync('npm', ['run', 'build:web', '--silent'], { stdio: 'inherit' });
process.exit(status ?? 1);
