import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: {
      health_check: { interval: '50ms', timeout: '40ms', rise: 2, fall: 2, jitter: 0 },
      // Automatic failback, the case where flapping could cause ping-pong.
      failover: { failback: 'auto', failback_after: '1s', min_interval: '3s' },
    },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('a flapping primary', () => {
  it('causes at most one flip within min_interval, and no failback while it flaps', async () => {
    const t = p.proxy.tenant('t')!;
    let healthy = true;
    const flapUntil = Date.now() + 3000;
    while (Date.now() < flapUntil) {
      healthy = !healthy;
      await primary.setHealth(healthy ? 200 : 503);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(t.flips.length).toBeLessThanOrEqual(1);
    expect(t.flips.every((f) => f.trigger === 'health')).toBe(true);
  });
});
