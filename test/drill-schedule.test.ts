/** When a scheduled drill may start (src/drill/schedule.ts): windows, freezes, every, jitter. */
import { describe, expect, it } from 'vitest';
import type { DrillSchedule } from '../src/config/types.js';
import { nextAllowed, nextStart, scheduleOf, windowAt } from '../src/drill/schedule.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// 2026-12-06 is a Sunday (UTC day 0).
const SUN = Date.UTC(2026, 11, 6);
const MON = SUN + DAY;
const TUE = SUN + 2 * DAY;

const sched = (s: Partial<DrillSchedule>): DrillSchedule => ({ tenants: ['t'], tiers: [], windows: [], blocked: [], jitter: 0, ...s });
const zero = (): number => 0;
const almostOne = (): number => 0.999_999_9;

describe('drill schedule', () => {
  it('2026-12-06 is a Sunday (the fixtures rely on it)', () => {
    expect(new Date(SUN).getUTCDay()).toBe(0);
  });

  it('no windows: starts now, then not before last + every', () => {
    const s = sched({ every: 7 * DAY });
    expect(nextStart(s, undefined, MON, zero)).toBe(MON);
    expect(nextStart(s, MON, MON + HOUR, zero)).toBe(MON + 7 * DAY);
    // Overdue (the proxy was down): now.
    expect(nextStart(s, MON, MON + 9 * DAY, zero)).toBe(MON + 9 * DAY);
  });

  it('a window: only inside it, on its days', () => {
    // Tuesdays 02:00-04:00.
    const s = sched({ windows: [{ days: [2], start: 2 * 60, end: 4 * 60 }] });
    expect(nextStart(s, undefined, MON + 10 * HOUR, zero)).toBe(TUE + 2 * HOUR);
    // Inside the window: now.
    expect(nextStart(s, undefined, TUE + 3 * HOUR, zero)).toBe(TUE + 3 * HOUR);
    // At its end (exclusive): next week.
    expect(nextStart(s, undefined, TUE + 4 * HOUR, zero)).toBe(TUE + 7 * DAY + 2 * HOUR);
  });

  it('no every: once per window opening', () => {
    const s = sched({ windows: [{ days: [2], start: 2 * 60, end: 4 * 60 }] });
    // A drill started at 02:10 this Tuesday: the next one next Tuesday, not at 02:11.
    expect(nextStart(s, TUE + 2 * HOUR + 10 * MIN, TUE + 2 * HOUR + 11 * MIN, zero)).toBe(TUE + 7 * DAY + 2 * HOUR);
  });

  it('every and a window: not before last + every, and in a window', () => {
    const s = sched({ every: 2 * DAY, windows: [{ days: [0, 1, 2, 3, 4, 5, 6], start: 1 * 60, end: 2 * 60 }] });
    // Last at Sunday 01:30: earliest Tuesday 01:30, which is in Tuesday's window.
    expect(nextStart(s, SUN + 90 * MIN, SUN + 2 * HOUR, zero)).toBe(TUE + 90 * MIN);
    // Last at Sunday 01:59 → earliest Tuesday 01:59, still inside.
    expect(nextStart(s, SUN + 119 * MIN, SUN + 2 * HOUR, zero)).toBe(TUE + 119 * MIN);
    // Last at Sunday 00:30 (outside a window, e.g. an ad-hoc window before): Tuesday 01:00.
    expect(nextStart(s, SUN + 30 * MIN, SUN + 2 * HOUR, zero)).toBe(TUE + 60 * MIN);
  });

  it('a window crossing midnight belongs to the day it opens on', () => {
    // Saturday 22:00 → Sunday 02:00.
    const w = { days: [6], start: 22 * 60, end: 2 * 60 };
    const s = sched({ windows: [w] });
    const SAT = SUN - DAY;
    // Sunday 01:00 is inside Saturday's window.
    expect(windowAt([w], SUN + HOUR)).toEqual({ start: SAT + 22 * HOUR, end: SUN + 2 * HOUR });
    expect(nextStart(s, undefined, SUN + HOUR, zero)).toBe(SUN + HOUR);
    // Sunday 02:00 is past it: next Saturday 22:00.
    expect(nextStart(s, undefined, SUN + 2 * HOUR, zero)).toBe(SAT + 7 * DAY + 22 * HOUR);
    // Friday 23:00 is not in it (the window opens on Saturdays only).
    expect(windowAt([w], SAT - HOUR)).toBeUndefined();
  });

  it('start == end is a whole day', () => {
    const s = sched({ windows: [{ days: [1], start: 0, end: 0 }] });
    expect(nextStart(s, undefined, SUN + 5 * HOUR, zero)).toBe(MON);
    expect(windowAt(s.windows, MON + 23 * HOUR + 59 * MIN)).toEqual({ start: MON, end: MON + DAY });
  });

  it('a blocked period covering a window: the window after it', () => {
    const s = sched({
      windows: [{ days: [2], start: 2 * 60, end: 4 * 60 }],
      // A change freeze from Monday to Wednesday covers this Tuesday's window.
      blocked: [{ from: MON, to: TUE + DAY }],
    });
    expect(nextStart(s, undefined, SUN, zero)).toBe(TUE + 7 * DAY + 2 * HOUR);
  });

  it('a blocked period ending inside a window: from its end', () => {
    const s = sched({ windows: [{ days: [2], start: 2 * 60, end: 4 * 60 }], blocked: [{ from: MON, to: TUE + 3 * HOUR }] });
    expect(nextStart(s, undefined, SUN, zero)).toBe(TUE + 3 * HOUR);
  });

  it('no windows, a freeze now: when it ends', () => {
    const s = sched({ every: DAY, blocked: [{ from: SUN, to: TUE }, { from: TUE, to: TUE + HOUR }] });
    expect(nextStart(s, undefined, MON, zero)).toBe(TUE + HOUR);
  });

  it('jitter: up to jitter later, and never past the window or into a freeze', () => {
    const w = [{ days: [2], start: 2 * 60, end: 4 * 60 }];
    // Jitter 30 min in a 2 h window: [02:00, 02:30).
    const s = sched({ windows: w, jitter: 30 * MIN });
    expect(nextStart(s, undefined, MON, zero)).toBe(TUE + 2 * HOUR);
    const late = nextStart(s, undefined, MON, almostOne)!;
    expect(late).toBeGreaterThan(TUE + 2 * HOUR + 29 * MIN);
    expect(late).toBeLessThan(TUE + 2 * HOUR + 30 * MIN);
    for (let i = 0; i < 200; i++) {
      const t = nextStart(s, undefined, MON, Math.random)!;
      expect(t).toBeGreaterThanOrEqual(TUE + 2 * HOUR);
      expect(t).toBeLessThan(TUE + 2 * HOUR + 30 * MIN);
    }
    // Jitter larger than the window: still inside it.
    const wide = sched({ windows: w, jitter: 10 * HOUR });
    const t = nextStart(wide, undefined, TUE + 3 * HOUR + 50 * MIN, almostOne)!;
    expect(t).toBeLessThan(TUE + 4 * HOUR);
    expect(windowAt(w, t)).toBeDefined();
    // A freeze starting 10 min into the window: the jittered start stays before it.
    const frozen = sched({ windows: w, jitter: HOUR, blocked: [{ from: TUE + 2 * HOUR + 10 * MIN, to: TUE + DAY }] });
    const f = nextStart(frozen, undefined, MON, almostOne)!;
    expect(f).toBeGreaterThanOrEqual(TUE + 2 * HOUR);
    expect(f).toBeLessThan(TUE + 2 * HOUR + 10 * MIN);
  });

  it('windows blocked for longer than the horizon: no start', () => {
    expect(nextAllowed([{ days: [2], start: 0, end: 60 }], [{ from: SUN, to: SUN + 1000 * DAY }], SUN, 800 * DAY)).toBeUndefined();
  });

  it('the schedule naming a tenant wins over the one naming its tier', () => {
    const byTier = sched({ tenants: [], tiers: ['BC'], every: DAY });
    const byName = sched({ tenants: ['acme'], every: 7 * DAY });
    expect(scheduleOf([byTier, byName], 'acme', 'BC')?.index).toBe(1);
    expect(scheduleOf([byTier, byName], 'other', 'BC')?.index).toBe(0);
    expect(scheduleOf([byTier, byName], 'other', 'DR1')).toBeUndefined();
  });
});
