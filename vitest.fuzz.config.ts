import { defineConfig } from 'vitest/config';

/**
 * The OpenAPI fuzz suite (`npm run test:fuzz`): every operation of openapi.json with generated
 * input, on the embedded database (TEST_DATABASE_URL selects PostgreSQL as in `npm test`).
 */
export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
