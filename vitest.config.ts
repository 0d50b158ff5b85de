import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The simulator asserts its invariants after every event in test runs (sim/invariants.ts).
    env: { SIM_CHECK_INVARIANTS: '1' },
  },
});
