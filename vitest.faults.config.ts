import { defineConfig } from 'vitest/config';

/**
 * The fault tests (`npm run test:faults`): real PostgreSQL, Redis and server processes that
 * the tests start, kill and restart. One file at a time, never inside `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 240_000,
    hookTimeout: 240_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
