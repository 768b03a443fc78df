import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The module boundaries of docs/architecture.md, checked on the source text: cheap, and part of
// every `npm test` (so of CI). A module is a folder of src/modules/; modules reach each other
// only through `index.ts`, and the platform (src/platform/) depends on no module.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative specifier a file imports or re-exports, statically or with `import()`. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) if (match[1]!.startsWith('.')) found.push(match[1]!);
  }
  return found;
}

/** `src/modules/<name>/...` -> name; anything else -> undefined. */
function moduleOf(path: string): string | undefined {
  const parts = relative(SRC, path).split(sep);
  return parts[0] === 'modules' && parts.length > 2 ? parts[1] : undefined;
}

const isTables = (path: string) => /\.tables\.(ts|js)$/.test(path);

/** The rule broken by `file` importing `specifier`, or undefined when the import is allowed. */
function violation(file: string, specifier: string): string | undefined {
  const target = resolve(dirname(file), specifier);
  const inPlatform = relative(SRC, file).split(sep)[0] === 'platform';
  if (inPlatform && relative(SRC, target).split(sep)[0] === 'modules') return 'platform imports a module';
  const from = moduleOf(file);
  const to = moduleOf(target);
  if (from === undefined || to === undefined || from === to) return undefined;
  const entry = relative(join(SRC, 'modules', to), target);
  if (entry === 'index.js' || entry === 'index.ts') return undefined;
  // Foreign keys: a table may reference another module's table (drizzle-kit loads the tables
  // files on their own, without the modules' code behind index.ts).
  if (isTables(file) && isTables(target)) return undefined;
  return `reaches past ${to}/index.ts`;
}

/**
 * Where `text` (a file of a module other than the catalog) names the catalog's derived
 * `listed` column itself instead of taking the rule from the catalog (`listedSong`, ...).
 */
function listedColumnUses(text: string): string[] {
  return [...text.matchAll(/\b\w+\.listed\b|\bwhere\s+listed\b/g)].map((match) => match[0]);
}

const isTest = (path: string) => /\.test\.ts$/.test(path);

describe('module boundaries', () => {
  it('no module imports past another module’s index.ts, and the platform imports no module', () => {
    const broken = sourceFiles(SRC).flatMap((file) =>
      relativeImports(readFileSync(file, 'utf8')).flatMap((specifier) => {
        const rule = violation(file, specifier);
        return rule ? [`${relative(ROOT, file)}: '${specifier}' (${rule})`] : [];
      }),
    );
    expect(broken).toEqual([]);
  });

  it('only the catalog writes its visibility rule: other modules take `listed` conditions from it', () => {
    const catalog = join(SRC, 'modules', 'catalog');
    const broken = sourceFiles(join(SRC, 'modules'))
      .filter((file) => !file.startsWith(catalog + sep) && !isTest(file))
      .flatMap((file) =>
        listedColumnUses(readFileSync(file, 'utf8')).map((use) => `${relative(ROOT, file)}: ${use}`),
      );
    expect(broken).toEqual([]);
    expect(listedColumnUses('where balance > 0 and songs.listed\n and a.listed or x.listed_at')).toEqual([
      'songs.listed',
      'a.listed',
    ]);
    expect(listedColumnUses('select 1 from albums where listed group by genre')).toEqual(['where listed']);
    expect(listedColumnUses('where listedSong(s) and songs.listedAt')).toEqual([]);
  });

  it('sees every kind of import, and tells the allowed from the broken', () => {
    const text = [
      "import { a } from '../catalog/catalog.repo.js';",
      "import type {\n  B,\n} from '../identity/index.js';",
      "export * from './own.js';",
      "import './side-effect.js';",
      "const m = await import('../live/live.service.js');",
      "import { x } from 'drizzle-orm';",
    ].join('\n');
    expect(relativeImports(text).sort()).toEqual(
      [
        '../catalog/catalog.repo.js',
        '../identity/index.js',
        './own.js',
        './side-effect.js',
        '../live/live.service.js',
      ].sort(),
    );
    const library = join(SRC, 'modules/library/playlists.repo.ts');
    expect(violation(library, '../catalog/catalog.repo.js')).toBe('reaches past catalog/index.ts');
    expect(violation(library, '../identity/identity.tables.js')).toBe('reaches past identity/index.ts');
    expect(violation(library, '../identity/index.js')).toBeUndefined();
    expect(violation(library, './playlists.tables.js')).toBeUndefined();
    expect(violation(library, '../../platform/db.js')).toBeUndefined();
    const tables = join(SRC, 'modules/library/playlists.tables.ts');
    expect(violation(tables, '../identity/identity.tables.js')).toBeUndefined();
    expect(violation(tables, '../identity/identity.repo.js')).toBe('reaches past identity/index.ts');
    const platform = join(SRC, 'platform/db.ts');
    expect(violation(platform, '../modules/catalog/index.js')).toBe('platform imports a module');
    expect(violation(platform, '../config.js')).toBeUndefined();
    expect(violation(join(SRC, 'schema.ts'), './modules/catalog/catalog.tables.js')).toBeUndefined();
  });
});
