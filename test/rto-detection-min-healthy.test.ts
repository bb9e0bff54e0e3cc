/**
 * Issue 17, item 1, with min_healthy 2 of 3: site a1 becomes unavailable when its second backend
 * fails, minutes after the first (the control plane's clock jumps ahead between them), while the
 * third is still up. The flip's duration starts at the second backend's first failed check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/poll.js';
import { checkState, expectNoFlip, expectOwnDuration, MINUTE, RTO_CHECKS, routedFlip, startRtoProxy, type RtoSetup } from './helpers/rto.js';

let s: RtoSetup;

beforeAll(async () => {
  s = await startRtoProxy(3, { health_check: RTO_CHECKS }, { min_healthy: 2 });
});

afterAll(async () => {
  await s?.stop();
});

describe('RTO detection start, min_healthy 2 of 3', () => {
  it('counts from the backend whose failure took the site below min_healthy', async () => {
    const [x, y] = s.a1;
    await x!.setHealth(503);
    await waitFor(() => checkState(s, 0) === 'down', { what: 'a1-0 down' });
    // One of three down: the site is still available, and the tenant stays.
    expect(s.p.proxy.tenant('t')!.site('a1')!.health(s.clock.now()).available).toBe(true);
    expectNoFlip(s);
    const lastJump = s.clock.jump(6 * MINUTE);
    await y!.setHealth(503);
    const flip = await routedFlip(s);
    expect(checkState(s, 2)).toBe('up');
    await expectOwnDuration(s, flip, lastJump);
  });
});
