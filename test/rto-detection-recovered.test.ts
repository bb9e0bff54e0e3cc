/**
 * Issue 17, item 1, a backend that recovered and failed again starts a new streak. Site a1
 * (min_healthy 1 of 2), the control plane's clock jumping minutes ahead between each step:
 * a1-0 fails, then recovers; a1-1 fails (the site stays available on a1-0); a1-0 fails again,
 * which takes the site down. The flip's duration starts at a1-0's second failure: neither its
 * first failure nor a1-1's, both minutes older.
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

describe('RTO detection start, a backend that recovered and failed again', () => {
  it('counts from the first failure of its new streak', async () => {
    const [x, y] = s.a1;
    await x!.setHealth(503);
    await waitFor(() => checkState(s, 0) === 'down', { what: 'a1-0 down' });
    s.clock.jump(5 * MINUTE);
    await x!.setHealth(200);
    await waitFor(() => checkState(s, 0) === 'up', { what: 'a1-0 up again' });
    s.clock.jump(5 * MINUTE);
    await y!.setHealth(503);
    await waitFor(() => checkState(s, 1) === 'down', { what: 'a1-1 down' });
    expectNoFlip(s);
    const lastJump = s.clock.jump(5 * MINUTE);
    await x!.setHealth(503);
    const flip = await routedFlip(s);
    await expectOwnDuration(s, flip, lastJump);
  });
});
