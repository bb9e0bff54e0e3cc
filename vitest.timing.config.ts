import { defineConfig } from 'vitest/config';

/**
 * The latency-asserting tests (failover under load), and the floods that would starve the
 * other files' fast health checks (admin-flood-full-disk). They run after the main suite, one
 * file at a time, so that no other test file competes with them for the machine's two cores.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.timing.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
