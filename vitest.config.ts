import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Their own runs, once each (`npm run test:browser`, `test:faults`, `test:fuzz`): one backend.
    exclude: ['test/browser/**', 'test/faults/**', 'test/fuzz/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Two cores: two files at a time, each on its own copy of the migrated database.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // Only with --coverage (`npm run test:coverage`): each leg writes its JSON to its own
    // directory, and scripts/coverage-merge.mjs merges the legs and applies the thresholds.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: [
        'src/**/*.test.ts',
        // The command line (serve, migrate, import, openapi): it only runs as its own process,
        // which test/e2e/ starts (`node --import tsx src/main.ts`, `npm run import`), and the
        // coverage of child processes is not collected.
        'src/main.ts',
      ],
      reporter: ['json', 'text-summary'],
      reportsDirectory: process.env.COVERAGE_DIR ?? 'coverage',
      // A leg with a failing test still writes its JSON: the merged figure stays visible, and
      // the failure is counted once (by the leg), not again as "coverage missing".
      reportOnFailure: true,
    },
  },
});
