/**
 * Issue 17 item 2: drproxy_failover_rto_ratio keeps the last routed flip's ratio, and
 * drproxy_failover_rto_ratio_worst is the worst ratio among routed flips that ended within
 * metrics.rto_window (0 when none), computed at scrape against the metrics clock.
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.js';
import type { FlipRecord } from '../src/failover/flip.js';
import { parseExposition, value } from './helpers/prom.js';

const HOUR = 3600_000;
const RTO = 15 * 60_000;

function flip(endAt: number, durationMs: number, result: FlipRecord['result'] = 'routed'): FlipRecord {
  const t = endAt - durationMs;
  return {
    tenant: 'acme', tier: 'BC', from: 'a1', to: 'b1', epoch: 2, trigger: 'health', reason: 'test', result, durationMs, rtoMs: RTO,
    timings: { detectedAt: t, trippedAt: t, persistedAt: endAt, drainedAt: endAt, fencedAt: endAt, promotedAt: endAt, routedAt: endAt },
  };
}

describe('RTO ratio over a window', () => {
  it('keeps the last ratio and the worst one of the window, at scrape time', async () => {
    let now = 1_000 * HOUR;
    const m = new Metrics({ defaultMetrics: false, now: () => now });
    m.configure({ detail: 'auto', detail_auto_limit: 100, full_detail: [], rto_window: 24 * HOUR }, [{ name: 'acme' }]);
    m.describeTenant({ name: 'acme', tier: { name: 'BC', rto: RTO, rpo: RTO } } as never);
    const read = async (): Promise<[number | undefined, number | undefined]> => {
      const e = parseExposition(await m.text());
      return [value(e, 'drproxy_failover_rto_ratio', { tenant: 'acme', tier: 'BC' }), value(e, 'drproxy_failover_rto_ratio_worst', { tenant: 'acme', tier: 'BC' })];
    };
    expect(await read()).toEqual([undefined, 0]);

    m.flip(flip(now, RTO * 2), { rto: RTO }); // ratio 2 at T
    now += 2 * HOUR;
    m.flip(flip(now, RTO / 2), { rto: RTO }); // 0.5 at T+2h
    now += 2 * HOUR;
    m.flip(flip(now, RTO), { rto: RTO }); // 1 at T+4h
    m.flip(flip(now, RTO * 9, 'frozen'), { rto: RTO }); // not routed: no ratio
    expect(await read()).toEqual([1, 2]);

    now += 21 * HOUR; // T+25h: the ratio-2 flip has left the window
    expect(await read()).toEqual([1, 1]);
    now += 4 * HOUR; // T+29h: the last one too
    expect(await read()).toEqual([1, 0]);
  });
});
