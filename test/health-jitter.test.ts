/**
 * Probe jitter only ever brings a probe forward: with interval 100 ms and jitter 0.5 the gaps
 * between probes fall in [50, 100] ms (plus timer lateness), never above the interval, so a
 * dead backend is still down within interval × fall + timeout. A ± jitter would put about half
 * of the gaps above 100 ms and their median near 100 ms; forward-only jitter puts the median
 * near 75 ms. A loaded machine makes a timer late now and then (the schedule does not
 * accumulate it): a few gaps may be late, the median may not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const INTERVAL = 100;
/** Timer lateness allowed on a busy test machine (the schedule does not accumulate it). */
const LATE = 30;
const GAPS = 24;

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: { interval: `${INTERVAL}ms`, timeout: '50ms', rise: 1, fall: 1, jitter: 0.5 }, failover: { mode: 'manual' } },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('probe jitter', () => {
  it('never makes a probe later than its interval, and does spread them', async () => {
    const at = await waitFor(async () => {
      const s = (await a1.stats()).healthAt;
      return s.length > GAPS ? s : undefined;
    }, { what: `${GAPS + 1} probes` });
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    const sorted = [...gaps].sort((x, y) => x - y);
    const median = sorted[sorted.length >> 1]!;
    expect(median).toBeLessThanOrEqual(INTERVAL * 0.9);
    expect(gaps.filter((g) => g > INTERVAL + LATE).length).toBeLessThanOrEqual(2);
    // Spread: with jitter 0.5, some gap is well under the interval.
    expect(Math.min(...gaps)).toBeLessThan(INTERVAL * 0.9);
  });
});
