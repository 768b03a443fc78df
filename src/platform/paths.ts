import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's folder (where package.json, db/migrations, web/ and openapi.json live), found
 * by walking up from this module. The code runs from three layouts: src/ under tsx and the
 * tests, dist/ bundled by `npm start` (a few files at dist/'s top), and dist/ as `npm run
 * build` (tsc) mirrors src/; a fixed `../..` would be right in only some of them.
 */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the project's folder. */
export const projectPath = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);
