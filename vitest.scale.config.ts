import { defineConfig } from 'vitest/config';

/**
 * The multi-process scale-out run (`npm run test:scale`): real processes on PostgreSQL, Redis
 * and NATS. Separate from `npm test` so it runs once in CI, not in both database legs.
 */
export default defineConfig({
  test: {
    include: ['test/scale-out/**/*.e2e.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
