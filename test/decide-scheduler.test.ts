/**
 * The controller applies decide()'s waits through its injected scheduler and clock: a trip_after
 * of an hour is waited for by moving the clock and firing the timer, not by sleeping. Real
 * upstreams, real probes and the real file store (helpers/controller.ts); only the decisions'
 * timers and the clock are the test's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startController, type ControllerSetup } from './helpers/controller.js';
import { waitFor } from './helpers/poll.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';

const HOUR = 3_600_000;

let setup: ControllerSetup | undefined;

afterAll(async () => {
  await setup?.stop();
});

describe('a decision to wait, applied with an injected scheduler and clock', () => {
  it('fails over once trip_after has passed on the clock, with no wall-clock wait', async () => {
    let offset = 0;
    const now = (): number => Date.now() + offset;
    const scheduler = new ManualScheduler();
    setup = await startController({ trip_after: '1h', min_interval: '0s', drain_timeout: '1s' }, { now, scheduler });
    const { c, store } = setup;
    expect(c.state).toMatchObject({ active: 'a', epoch: 1 });

    // Site a loses its only backend (an operator drain: no probe needs to fail).
    const lostAt = now();
    c.setDrained('a', c.site('a')!.backends[0]!.backend.name, true);
    const wait = [...scheduler.pending.values()];
    expect(wait).toHaveLength(1);
    expect(wait[0]!.ms).toBeGreaterThan(HOUR - 1000);
    expect(wait[0]!.ms).toBeLessThanOrEqual(HOUR + 5);
    expect(c.state).toMatchObject({ active: 'a', phase: 'active' });
    expect(c.slot.route.mode).toBe('hold');

    // An hour later on the clock: the timer fires, the controller decides again and flips.
    offset += HOUR;
    scheduler.fire(HOUR + 5);
    await waitFor(() => c.state.active === 'b' && c.state.phase === 'active', { what: 'failover to b' });
    expect(c.state.epoch).toBe(2);
    expect(c.flips.at(-1)).toMatchObject({ from: 'a', to: 'b', trigger: 'health', result: 'routed' });
    expect(c.flips.at(-1)!.timings.trippedAt - lostAt).toBeGreaterThanOrEqual(HOUR);
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 2 });
    expect(await store.load('t')).toMatchObject({ active: 'b', epoch: 2, phase: 'active', fenced: ['a'] });
  });
});
