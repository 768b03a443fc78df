// Merges the coverage of several test runs (the PGlite and PostgreSQL legs each write a
// coverage-final.json into their COVERAGE_DIR), prints the overall summary and the files with
// the lowest line coverage (with their uncovered lines), and fails below the thresholds.
// Usage: node scripts/coverage-merge.mjs coverage/pglite coverage/postgres
// COVERAGE_LOWEST=N lists N files (default 15, 0 for none).
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import libCoverage from 'istanbul-lib-coverage';

/**
 * Lowest percentages CI accepts, per metric, of both legs merged: each a little below what the
 * suite reached when it was set (lines 92.9, statements 90.6, functions 90.2, branches 82.3 %),
 * lines never below the 90 % of issue 20. Raise them as the suite grows, never above what passes.
 */
const THRESHOLDS = {
  lines: Number(process.env.COVERAGE_MIN_LINES ?? 92),
  statements: Number(process.env.COVERAGE_MIN_STATEMENTS ?? 89.5),
  functions: Number(process.env.COVERAGE_MIN_FUNCTIONS ?? 89),
  branches: Number(process.env.COVERAGE_MIN_BRANCHES ?? 81),
};
const LOWEST = Number(process.env.COVERAGE_LOWEST ?? 15);

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: node scripts/coverage-merge.mjs <dir>...');
  process.exit(2);
}
const map = libCoverage.createCoverageMap({});
for (const dir of dirs) {
  const file = join(dir, 'coverage-final.json');
  if (!existsSync(file)) {
    console.error(`coverage: ${file} is missing (that leg died, or ran without --coverage)`);
    process.exit(1);
  }
  map.merge(JSON.parse(readFileSync(file, 'utf8')));
}

const pct = (m) => `${m.pct.toFixed(2).padStart(6)} %`;
const summary = map.getCoverageSummary();
console.log(`coverage of ${dirs.join(' + ')} merged, ${map.files().length} files:`);
for (const [metric, min] of Object.entries(THRESHOLDS)) {
  const m = summary[metric];
  console.log(`  ${metric.padEnd(10)} ${pct(m)} (${m.covered}/${m.total}), minimum ${min} %`);
}

/** "12-14, 20, 31-40" from sorted line numbers, cut to `max` ranges. */
function ranges(lines, max = 8) {
  const out = [];
  for (const line of lines) {
    const last = out.at(-1);
    if (last && line === last[1] + 1) last[1] = line;
    else out.push([line, line]);
  }
  const text = out.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  if (out.length > max) text.push(`... (${out.length - max} more)`);
  return text.join(', ');
}

if (LOWEST > 0) {
  const files = map.files().map((path) => {
    const fc = map.fileCoverageFor(path);
    const lines = fc.toSummary().lines;
    const uncovered = fc.getUncoveredLines().map(Number);
    return { path: relative(process.cwd(), path), lines, uncovered };
  });
  files.sort((a, b) => a.lines.pct - b.lines.pct || b.uncovered.length - a.uncovered.length);
  console.log(`lowest ${Math.min(LOWEST, files.length)} files by lines:`);
  for (const f of files.slice(0, LOWEST)) {
    console.log(`  ${pct(f.lines)} ${f.path} (${f.lines.total - f.lines.covered} uncovered)`);
    if (f.uncovered.length) console.log(`           lines ${ranges(f.uncovered)}`);
  }
}

const below = Object.entries(THRESHOLDS).filter(([metric, min]) => summary[metric].pct < min);
for (const [metric, min] of below)
  console.error(`coverage: ${metric} ${summary[metric].pct} % is below the minimum of ${min} %`);
process.exit(below.length ? 1 : 0);
