/**
 * The layout of one flip's step timeline (detected → tripped → persisted → drained → fenced →
 * promoted → routed) against the tier's RTO, in percent of the drawing's width. Pure:
 * unit-tested in test/console-timeline.test.ts; timeline-svg.ts draws it.
 */
import type { FlipRecord, FlipTimings } from './model.js';

export const STEPS = ['tripped', 'persisted', 'drained', 'fenced', 'promoted', 'routed'] as const;
export type StepName = (typeof STEPS)[number];

const KEY: Record<StepName, keyof FlipTimings> = {
  tripped: 'trippedAt',
  persisted: 'persistedAt',
  drained: 'drainedAt',
  fenced: 'fencedAt',
  promoted: 'promotedAt',
  routed: 'routedAt',
};

/** The step that ends at `end` (ms after detection) and began where the one before ended. */
export interface StepBar {
  name: StepName;
  startMs: number;
  endMs: number;
  /** Left edge and width, in percent of the step row (the flip's own duration). */
  x: number;
  w: number;
}

export interface TimelineLayout {
  durationMs: number;
  rtoMs: number;
  /** duration / RTO. */
  ratio: number;
  over: boolean;
  /** The RTO row: its scale is max(RTO, duration); the flip's bar and the RTO mark on it, in percent. */
  budget: { w: number; rtoX: number };
  steps: StepBar[];
}

/** Smallest width a step gets, so that a 1 ms step stays visible next to a 2 s drain. */
export const MIN_STEP_W = 0.5;

export function layoutFlip(r: Pick<FlipRecord, 'timings' | 'durationMs' | 'rtoMs'>): TimelineLayout {
  const t = r.timings;
  const duration = Math.max(0, r.durationMs);
  const steps: StepBar[] = [];
  let prev = 0;
  for (const name of STEPS) {
    // Clamped: a step never ends before the one before it (clocks of other replicas, rounding).
    const end = Math.min(Math.max(prev, t[KEY[name]] - t.detectedAt), Math.max(duration, prev));
    steps.push({ name, startMs: prev, endMs: end, x: 0, w: 0 });
    prev = end;
  }
  const span = Math.max(duration, prev);
  for (const s of steps) {
    s.x = span > 0 ? (s.startMs / span) * 100 : 0;
    s.w = span > 0 ? Math.max(MIN_STEP_W, ((s.endMs - s.startMs) / span) * 100) : MIN_STEP_W;
    if (s.x + s.w > 100) s.x = Math.max(0, 100 - s.w);
  }
  const rto = Math.max(0, r.rtoMs);
  const scale = Math.max(rto, duration, 1);
  return {
    durationMs: duration,
    rtoMs: rto,
    ratio: rto > 0 ? duration / rto : Infinity,
    over: duration > rto,
    budget: { w: Math.max(MIN_STEP_W, (duration / scale) * 100), rtoX: (rto / scale) * 100 },
    steps,
  };
}
