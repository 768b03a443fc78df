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
  },
});
