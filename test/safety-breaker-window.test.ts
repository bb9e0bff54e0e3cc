/** The fleet breaker's counting (src/safety/breaker.ts) on a test clock: window, thresholds, trips, passes. */
import { describe, expect, it } from 'vitest';
import { FleetBreaker, type BreakerRule, type BreakerTrip } from '../src/safety/breaker.js';

function breaker(rule: BreakerRule, fleet = 100): { b: FleetBreaker; trips: BreakerTrip[]; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const trips: BreakerTrip[] = [];
  return { b: new FleetBreaker(rule, () => fleet, () => clock.t, (x) => trips.push(x)), trips, clock };
}

describe('FleetBreaker', () => {
  it('confirm: admits `count` per window, then holds every flip until confirmed, even after the window', () => {
    const { b, trips, clock } = breaker({ count: 3, window: 60_000, action: 'confirm' });
    expect(['a', 'b', 'c'].map((t) => b.admit(t))).toEqual([true, true, true]);
    expect(b.admit('d')).toBe(false);
    expect(trips).toEqual([{ at: clock.t, started: 3, threshold: 3, action: 'confirm' }]);
    clock.t += 120_000;
    expect(b.admit('d')).toBe(false);
    expect(trips).toHaveLength(1);
    b.confirm(['d', 'e']);
    expect(b.tripped).toBeUndefined();
    expect([b.admit('d'), b.admit('e')]).toEqual([true, true]);
    expect(b.inWindow()).toBe(0); // released flips are not counted
  });

  it('a pass not used within the window expires', () => {
    const { b, clock } = breaker({ count: 1, window: 60_000, action: 'confirm' });
    b.admit('a');
    expect(b.admit('b')).toBe(false);
    b.confirm(['b']);
    clock.t += 61_000;
    expect(b.admit('x')).toBe(true);
    expect(b.admit('b')).toBe(false); // its pass expired: counted like any other, and over the threshold
  });

  it('proceed: every flip is admitted; one trip while over the threshold, ended once the window slides', () => {
    const { b, trips, clock } = breaker({ percent: 5, window: 10_000, action: 'proceed' }, 40);
    expect(b.threshold()).toBe(2);
    expect([1, 2, 3, 4, 5].map((i) => b.admit(`t${i}`))).toEqual([true, true, true, true, true]);
    expect(trips).toHaveLength(1);
    expect(b.tripped).toBeDefined();
    clock.t += 10_001;
    expect(b.inWindow()).toBe(0);
    expect(b.tripped).toBeUndefined();
    b.admit('a');
    b.admit('b');
    b.admit('c');
    expect(trips).toHaveLength(2);
  });
});
