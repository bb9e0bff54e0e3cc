/**
 * Issue 17, item 1, active detection: the two backends of site a1 fail their health checks
 * minutes apart (the control plane's clock jumps ahead between them). The first leaves the site
 * available (min_healthy 1); the second takes it down and the tenant flips to b1. The flip's
 * duration starts at the second backend's first failed check, not the first backend's.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { waitFor } from './helpers/poll.js';
import { checkState, expectNoFlip, expectOwnDuration, MINUTE, RTO_CHECKS, routedFlip, startRtoProxy, type RtoSetup } from './helpers/rto.js';

let s: RtoSetup;

beforeAll(async () => {
  s = await startRtoProxy(2, { health_check: RTO_CHECKS });
});

afterAll(async () => {
  await s?.stop();
});

describe('RTO detection start, active checks', () => {
  it('counts from the first failed check of the backend that took the site down, not from the backend that failed minutes earlier', async () => {
    const [x, y] = s.a1;
    await x!.setHealth(503);
    await waitFor(() => checkState(s, 0) === 'down', { what: 'a1-0 down' });
    expectNoFlip(s);
    const lastJump = s.clock.jump(7 * MINUTE);
    await y!.setHealth(503);
    const flip = await routedFlip(s);
    await expectOwnDuration(s, flip, lastJump);
  });
});
