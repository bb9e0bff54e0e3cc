import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that assert latencies (failover within N ms under load) run afterwards, one file at
    // a time, with both cores to themselves: see vitest.timing.config.ts.
    exclude: ['test/**/*.timing.test.ts', '**/node_modules/**'],
    // Tests start real servers and child processes on 127.0.0.1; give them room but not forever.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: run files in parallel, two at a time, so that timing-sensitive failover tests
    // are not starved by a load test in the next file.
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
