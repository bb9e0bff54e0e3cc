/**
 * Issue 16, item 17: `failback: auto` with a primary whose health flaps (down 300 ms, up 450 ms),
 * `failback_after: 300ms`, `min_interval: 3s`, under a steady request load. The tenant must never
 * be frozen while a site can take traffic, no client may get a 503 (or any error of drproxy's
 * own), and automatic failbacks must be spaced by min_interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { startLoad } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';
import type { TenantState } from '../src/state/types.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;
const states: TenantState[] = [];

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy(
    {
      defaults: {
        health_check: { interval: '50ms', timeout: '40ms', rise: 2, fall: 2, jitter: 0 },
        // hold_requests below min_interval: a tenant that waits out min_interval while its active
        // site is down answers 503 to the requests it held.
        failover: { failback: 'auto', failback_after: '300ms', min_interval: '3s', hold_requests: '2s' },
      },
      tenants: {
        t: {
          ...twoSiteTenant('t.example.com', primary, backup),
          // The standby's own checks are lenient: it stays available on a loaded machine.
          sites: [
            { name: 'a1', backends: [primary.url] },
            { name: 'b1', backends: [backup.url], health_check: { interval: '200ms', timeout: '150ms', fall: 4 } },
          ],
        },
      },
    },
    { controllerHooks: { onState: (s) => void states.push(s) } },
  );
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('auto failback with a flapping primary, under load', () => {
  it('never freezes, answers no 503, and spaces failbacks by min_interval', async () => {
    const t = p.proxy.tenant('t')!;
    const load = startLoad({ url: p.url, host: 't.example.com', rate: 100, maxMs: 15_000 });
    let healthy = true;
    const flapUntil = Date.now() + 9_000;
    while (Date.now() < flapUntil) {
      healthy = !healthy;
      await primary.setHealth(healthy ? 200 : 503);
      // Up a little longer than failback_after, so that failbacks happen while it flaps.
      await new Promise((r) => setTimeout(r, healthy ? 450 : 300));
    }
    await primary.setHealth(200);
    // Once the primary stays healthy, auto failback brings the tenant home.
    await waitFor(() => t.state.active === 'a1' && t.state.phase === 'active', { what: 'failback to a1', timeout: 8000 });
    const samples = await load.stop();

    const frozen = states.filter((s) => s.phase === 'frozen');
    expect(frozen, `frozen states: ${JSON.stringify(frozen)}`).toEqual([]);
    const errors = samples.filter((s) => s.status !== 200);
    const byStatus: Record<string, number> = {};
    for (const s of errors) byStatus[s.status || s.error!] = (byStatus[s.status || s.error!] ?? 0) + 1;
    expect(byStatus, `${errors.length} of ${samples.length} requests failed`).toEqual({});
    expect(samples.length).toBeGreaterThan(500);

    // Failbacks respect min_interval: each one starts at least 3 s after the flip before it.
    const flips = t.flips;
    expect(flips.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < flips.length; i++) {
      if (flips[i]!.trigger !== 'failback') continue;
      expect(flips[i]!.timings.trippedAt - flips[i - 1]!.timings.routedAt).toBeGreaterThanOrEqual(3000 - 10);
    }
    // Epochs only grow, one per flip.
    const epochs = states.map((s) => s.epoch);
    for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThanOrEqual(epochs[i - 1]!);
  }, 40_000);
});
