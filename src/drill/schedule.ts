/**
 * When a scheduled drill may start (docs/drills.md, "Scheduled drills"). Pure: the schedule, when
 * the tenant's last scheduled drill started, now and a random source in, an instant out. A start
 * is always inside an open window (weekly, UTC; none: any time) and never inside a blocked period
 * (a change freeze); not before `last + every`; and with `every` unset, once per window opening.
 * The jitter delays a start by up to `jitter`, but never past the end of the allowed stretch it
 * falls in, so a jittered start is still inside its window and outside every freeze.
 */
import type { DrillBlocked, DrillSchedule, DrillWindow } from '../config/types.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** A stretch of time [start, end), epoch ms. */
export interface Stretch {
  start: number;
  end: number;
}

/** Occurrences of the windows that end after `t`, merged where they touch, within 9 days. */
function occurrences(windows: readonly DrillWindow[], t: number): Stretch[] {
  const today = Math.floor(t / DAY) * DAY;
  const all: Stretch[] = [];
  // From yesterday (a window crossing midnight into today) to a week ahead.
  for (let d = -1; d <= 8; d++) {
    const dayStart = today + d * DAY;
    const weekday = new Date(dayStart).getUTCDay();
    for (const w of windows) {
      if (!w.days.includes(weekday)) continue;
      const start = dayStart + w.start * MINUTE;
      // end at or before start: the window ends the next day (start == end: a whole day).
      const end = dayStart + w.end * MINUTE + (w.end <= w.start ? DAY : 0);
      if (end > t) all.push({ start, end });
    }
  }
  all.sort((a, b) => a.start - b.start);
  const merged: Stretch[] = [];
  for (const s of all) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  return merged;
}

/** The window occurrence (merged) that contains `t`, if any; no windows: none. */
export function windowAt(windows: readonly DrillWindow[], t: number): Stretch | undefined {
  return occurrences(windows, t).find((s) => s.start <= t && t < s.end);
}

function blockedAt(blocked: readonly DrillBlocked[], t: number): DrillBlocked | undefined {
  return blocked.find((b) => b.from <= t && t < b.to);
}

/**
 * The first stretch at or after `from` in which a drill may start: inside a window, outside
 * every blocked period. Undefined when none within `horizon` ms (windows blocked for years).
 */
export function nextAllowed(windows: readonly DrillWindow[], blocked: readonly DrillBlocked[], from: number, horizon = 2 * 366 * DAY): Stretch | undefined {
  let t = from;
  while (t < from + horizon) {
    const w = windows.length === 0 ? { start: t, end: Infinity } : occurrences(windows, t)[0];
    // Windows always reopen within a week; an empty list of days cannot pass validation.
    if (w === undefined) return undefined;
    const at = Math.max(w.start, t);
    const b = blockedAt(blocked, at);
    if (b) {
      t = b.to;
      continue;
    }
    const nextBlock = Math.min(w.end, ...blocked.filter((x) => x.from > at).map((x) => x.from));
    return { start: at, end: nextBlock };
  }
  return undefined;
}

/** May a drill of this schedule start at `t` (inside a window, outside every freeze)? */
export function allowedAt(s: Pick<DrillSchedule, 'windows' | 'blocked'>, t: number): boolean {
  return nextAllowed(s.windows, s.blocked, t, 1)?.start === t;
}

/**
 * The earliest a drill may start, before windows and freezes: `last + every`; with no `every`,
 * after the window occurrence the last drill started in (one drill per window opening).
 */
function earliest(s: DrillSchedule, last: number | undefined, now: number): number {
  if (last === undefined) return now;
  if (s.every !== undefined) return Math.max(now, last + s.every);
  const w = windowAt(s.windows, last);
  return Math.max(now, w ? w.end : last + 1);
}

/**
 * The next start of `schedule` for one tenant: epoch ms, or undefined when no start is possible
 * within two years. `random` returns [0, 1) (Math.random; tests pass a fixed one).
 */
export function nextStart(schedule: DrillSchedule, last: number | undefined, now: number, random: () => number = Math.random): number | undefined {
  const stretch = nextAllowed(schedule.windows, schedule.blocked, earliest(schedule, last, now));
  if (stretch === undefined) return undefined;
  const room = Math.min(schedule.jitter, stretch.end - stretch.start - 1);
  return stretch.start + Math.floor(Math.max(0, room) * Math.min(Math.max(random(), 0), 0.999_999));
}

/** The schedule that drives `tenant`: the first naming it, else the first naming its tier. */
export function scheduleOf(schedules: readonly DrillSchedule[], tenant: string, tier: string): { schedule: DrillSchedule; index: number } | undefined {
  let index = schedules.findIndex((s) => s.tenants.includes(tenant));
  if (index < 0) index = schedules.findIndex((s) => s.tiers.includes(tier));
  return index < 0 ? undefined : { schedule: schedules[index]!, index };
}
