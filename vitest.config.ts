import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (in-process, files in parallel) and `e2e` (real processes: Redis, Cluster,
 * Sentinel, PostgreSQL, Prometheus, Chromium, server fleets), one file at a time, because two of
 * those on a 2-core machine starve each other into timeouts. `npm test` runs both, unit first,
 * and e2e with --no-file-parallelism.
 */
const E2E = ['test/e2e/**/*.test.ts', 'test/chaos/chaos.e2e.test.ts', 'test/ops/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The simulator asserts its invariants after every event in test runs (sim/invariants.ts).
    env: { SIM_CHECK_INVARIANTS: '1' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: E2E } },
      { extends: true, test: { name: 'e2e', include: E2E } },
    ],
  },
});
