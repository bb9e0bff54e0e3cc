/**
 * Probes keep their cadence when drproxy's event loop is busy: each one is due an interval after
 * the previous one was due, so a timer that fires late does not push every later probe back.
 * (Counting from the late start, the lag added up probe after probe: a dead backend was found
 * later than interval × fall + timeout.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { blockEventLoop } from './helpers/overload.js';
import { waitFor } from './helpers/poll.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { ActiveCheck, type CheckResult } from '../src/health/active-check.js';

const INTERVAL = 100;
let up: Upstream;

beforeAll(async () => {
  up = await startUpstream('s1');
});

afterAll(async () => {
  await stopAll(up);
});

describe('probe cadence', () => {
  it('on an event loop busy two thirds of the time, probes still start every interval on average', async () => {
    const agent = new Agent({ connections: 4 });
    const results: CheckResult[] = [];
    const check = new ActiveCheck(up.url, healthCheckConfig({ path: '/healthz', interval: `${INTERVAL}ms`, timeout: '80ms', rise: 1, fall: 1, jitter: 0 }), agent, {
      onResult: (r) => void results.push(r),
    });
    check.start();
    try {
      // Busy 40 ms, free ~23 ms, for 3 s: a timer due in a busy stretch fires up to 40 ms late.
      // (A period that divides the interval would hide the drift: every late timer would land
      // its successor in a free stretch.)
      const until = performance.now() + 3000;
      while (performance.now() < until) {
        blockEventLoop(40);
        await new Promise((r) => setTimeout(r, 23));
      }
    } finally {
      check.stop();
      await agent.destroy();
    }
    const starts = results.map((r) => r.at - r.durationMs);
    expect(starts.length).toBeGreaterThanOrEqual(15);
    const meanGap = (starts[starts.length - 1]! - starts[0]!) / (starts.length - 1);
    // Counting each probe from its late start, the gaps averaged 126.6–126.8 ms here (24
    // probes); kept on its cadence, 100.2–100.4 ms (30 probes).
    expect(meanGap).toBeLessThan(INTERVAL * 1.1);
  });

  it('schedules whole milliseconds (Node keeps a timer list per distinct duration: a fractional one made a list per probe)', async () => {
    const agent = new Agent({ connections: 4 });
    const durations: number[] = [];
    let check: ActiveCheck | undefined;
    const timer = () => (check as unknown as { timer?: { _idleTimeout: number } }).timer;
    check = new ActiveCheck(up.url, healthCheckConfig({ path: '/healthz', interval: `${INTERVAL}ms`, timeout: '80ms', rise: 1, fall: 1, jitter: 0.1 }), agent, {
      // The loop schedules its next probe right after a result: read that timer's duration.
      onResult: () => void setImmediate(() => durations.push(timer()?._idleTimeout ?? NaN)),
    });
    check.start();
    try {
      await waitFor(() => durations.length >= 5, { what: 'five probes' });
    } finally {
      check.stop();
      await agent.destroy();
    }
    for (const d of durations) expect(Number.isInteger(d), String(d)).toBe(true);
  });
});
