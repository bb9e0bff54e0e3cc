import { defineConfig } from 'vitest/config';

/**
 * The default data plane (`server.workers: auto`, one worker or more) under the suites that
 * exercise it most: every test proxy that does not set `server.workers` runs one worker
 * (DRPROXY_TEST_WORKERS, test/helpers/proxy.ts). The main run keeps 0, because most tests read
 * the in-process data plane; these files read only what the workers report (docs/design.md,
 * "Parity run").
 */
export default defineConfig({
  test: {
    include: [
      'test/tls-*.test.ts',
      'test/h2*.test.ts',
      'test/proxy-protocol*.test.ts',
      'test/hostile/*.test.ts',
      'test/connection-limits.test.ts',
      'test/failover-*.test.ts',
      'test/drain.test.ts',
      'test/held-deadline.test.ts',
      'test/held-detect-flip.test.ts',
      'test/forwarding-*.test.ts',
      'test/websocket.test.ts',
      'test/access-log.test.ts',
      'test/reload.test.ts',
      'test/cluster-follower-apply.test.ts',
    ],
    // They read main-thread internals (listener objects, tallies) or a worker's log line at once.
    exclude: ['test/**/*.timing.test.ts', 'test/hostile/accept-emfile.test.ts', 'test/hostile/upstream-truncation.test.ts', '**/node_modules/**'],
    env: { DRPROXY_TEST_WORKERS: '1' },
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
