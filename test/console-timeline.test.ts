/** The flip timeline's layout against the RTO (src/console/web/timeline.ts) and the page's number formats. */
import { describe, expect, it } from 'vitest';
import { layoutFlip, MIN_STEP_W, STEPS } from '../src/console/web/timeline.js';
import { formatMs, percent } from '../src/console/web/format.js';
import { backendHealth, dataAge } from '../src/console/web/health.js';

const base = 1_700_000_000_000;
function flip(steps: number[], rtoMs: number) {
  const [tripped, persisted, drained, fenced, promoted, routed] = steps.map((s) => base + s) as [number, number, number, number, number, number];
  return {
    timings: { detectedAt: base, trippedAt: tripped, persistedAt: persisted, drainedAt: drained, fencedAt: fenced, promotedAt: promoted, routedAt: routed },
    durationMs: routed - base,
    rtoMs,
  };
}

describe('flip timeline layout', () => {
  it('places each step after the one before, on the flip\'s own scale', () => {
    const l = layoutFlip(flip([200, 250, 750, 800, 900, 1000], 900_000));
    expect(l.steps.map((s) => s.name)).toEqual([...STEPS]);
    expect(l.steps.map((s) => [s.startMs, s.endMs])).toEqual([[0, 200], [200, 250], [250, 750], [750, 800], [800, 900], [900, 1000]]);
    expect(l.steps.map((s) => [s.x, s.w])).toEqual([[0, 20], [20, 5], [25, 50], [75, 5], [80, 10], [90, 10]]);
    expect(l.ratio).toBeCloseTo(1000 / 900_000);
    expect(l.over).toBe(false);
    // The RTO row: the RTO is the full width; the flip takes a sliver of it (at least the minimum).
    expect(l.budget.rtoX).toBe(100);
    expect(l.budget.w).toBe(MIN_STEP_W);
  });

  it('a flip over its RTO: the RTO mark moves left of the end and the flip is flagged', () => {
    const l = layoutFlip(flip([1000, 1100, 3000, 3100, 3200, 4000], 2000));
    expect(l.over).toBe(true);
    expect(l.ratio).toBe(2);
    expect(l.budget).toEqual({ w: 100, rtoX: 50 });
  });

  it('zero-length steps stay visible; all bars stay inside the drawing', () => {
    const l = layoutFlip(flip([0, 0, 0, 0, 0, 10], 900_000));
    for (const s of l.steps) {
      expect(s.w).toBeGreaterThanOrEqual(MIN_STEP_W);
      expect(s.x + s.w).toBeLessThanOrEqual(100 + 1e-9);
    }
    expect(l.steps.at(-1)).toMatchObject({ x: 0, w: 100 });
  });

  it('times out of order (another replica\'s clock) are clamped so that no step ends before the one before', () => {
    const l = layoutFlip(flip([300, 200, 400, 350, 500, 600], 900_000));
    const ends = l.steps.map((s) => s.endMs);
    expect(ends).toEqual([300, 300, 400, 400, 500, 600]);
  });

  it('an instant flip (0 ms) does not divide by zero', () => {
    const l = layoutFlip(flip([0, 0, 0, 0, 0, 0], 0));
    expect(l.steps.every((s) => Number.isFinite(s.x) && s.w === MIN_STEP_W)).toBe(true);
    expect(l.ratio).toBe(Infinity);
  });
});

describe('formats', () => {
  it('durations', () => {
    expect([0.42, 12.4, 999, 2300, 59_940, 250_000, 3_600_000, 11_100_000, 187_200_000].map(formatMs)).toEqual(['0.4 ms', '12 ms', '999 ms', '2.3 s', '59.9 s', '4 min 10 s', '1 h', '3 h 5 min', '2 d 4 h']);
  });

  it('percentages of the RTO or RPO', () => {
    expect([0, 0.00001, 0.0123, 0.5, 2].map(percent)).toEqual(['0%', '<0.01%', '1.2%', '50%', '200%']);
  });
});

describe('backend health and data age', () => {
  it('drained says more than ejected, which says more than the active check', () => {
    expect(backendHealth({ state: 'up', drained: true, ejected: true })).toBe('drained');
    expect(backendHealth({ state: 'up', drained: false, ejected: true })).toBe('ejected');
    expect(backendHealth({ state: 'down', drained: false, ejected: false })).toBe('down');
    expect(backendHealth({ state: 'unknown', drained: false, ejected: false })).toBe('unknown');
  });

  it('data age against the RPO', () => {
    expect(dataAge({ stale: false }, 900)).toEqual({ known: false });
    expect(dataAge({ data_age_seconds: 300, stale: false }, 900)).toMatchObject({ ratio: 300 / 900, stale: false });
    expect(dataAge({ data_age_seconds: 1200, stale: false }, 900)).toMatchObject({ stale: true });
  });
});
