/**
 * Issue 17, item 1, passive detection: requests fail (503) on the two backends of site a1
 * minutes apart (the control plane's clock jumps ahead between them); each is ejected by passive
 * health while its health checks still pass. The first ejection leaves the site available
 * (min_healthy 1); the second takes it down and the tenant flips to b1. The flip's duration
 * starts at the second backend's first failed request, not the first backend's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { isEjected } from '../src/health/outlier.js';
import { waitFor } from './helpers/poll.js';
import { expectNoFlip, expectOwnDuration, MINUTE, RTO_CHECKS, routedFlip, startRtoProxy, type RtoSetup } from './helpers/rto.js';

let s: RtoSetup;

beforeAll(async () => {
  s = await startRtoProxy(2, {
    health_check: RTO_CHECKS,
    // Ejections outlast the clock's jump; only a back-off ends them (no probe does).
    passive_health: { consecutive_failures: 2, base_ejection: '1h', max_ejection: '1h', uneject_on_probe_success: false },
    proxy: { retry_on: [503] },
  });
});

afterAll(async () => {
  await s?.stop();
});

async function get(): Promise<void> {
  const r = await request(`${s.p.url}/x`, { headers: { host: 't.example.com' } });
  await r.body.dump();
}

function ejected(i: number): boolean {
  return isEjected(s.p.proxy.tenant('t')!.site('a1')!.backends[i]!.passive, s.clock.now());
}

describe('RTO detection start, passive health', () => {
  it('counts from the first failed request of the backend that took the site down, not from the backend ejected minutes earlier', async () => {
    const [x, y] = s.a1;
    await x!.setMode(503);
    await waitFor(async () => (await get(), ejected(0)), { what: 'a1-0 ejected' });
    expectNoFlip(s);
    const lastJump = s.clock.jump(7 * MINUTE);
    await y!.setMode(503);
    const t = s.p.proxy.tenant('t')!;
    await waitFor(async () => (await get(), t.flips.length > 0), { what: 'a flip' });
    const flip = await routedFlip(s);
    // Both by passive health: the checks of a1's backends never failed.
    for (const b of t.site('a1')!.backends) expect(b.health.check.firstFailureAt).toBe(0);
    await expectOwnDuration(s, flip, lastJump);
  });
});
