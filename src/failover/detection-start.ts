/**
 * When a health flip's outage began: the start of the figure compared with the tier's RTO
 * (the flip's `detectedAt`, hence `duration_ms`, drproxy_failover_duration_seconds and
 * drproxy_failover_rto_ratio).
 *
 * The rule: a site with `need` (min_healthy) of `total` backends becomes unavailable when its
 * (total − need + 1)-th backend fails, and detection starts at the first failure of that
 * backend's current streak: its first failed check, or the first passive failure of the streak
 * that ejected it (the earlier of the two when both). Failures of the backends that went before
 * it are the site's history, not this outage: one backend of two dying minutes before the other
 * left the site available, and counting from it put those minutes into a flip that took
 * milliseconds (issue 17). A backend that recovered (its check up again, its ejection over) and
 * failed again starts a new streak. A drained backend counts as gone before any failure: if
 * drains alone took the site below min_healthy, the start is unknown (0; the caller uses now).
 */
import { isEjected } from '../health/outlier.js';
import type { BackendRuntime, SiteRuntime } from './site.js';

/** Detection start of the site's current unavailability (ms since epoch), or 0 when it is available or unknown. */
export function detectionStart(site: SiteRuntime, now: number): number {
  const { total, need } = site.health(now);
  const starts: number[] = [];
  for (const b of site.backends) if (site.stateOf(b, now) === 'down') starts.push(streakStart(b, now));
  // The k-th backend to fail, in the order of their streaks, took the site below min_healthy.
  const k = total - need + 1;
  if (k < 1 || starts.length < k) return 0;
  starts.sort((a, b) => a - b);
  const t = starts[k - 1]!;
  return Number.isFinite(t) ? t : 0;
}

/** First failure of a down backend's current streak; -Infinity when it has none (drained). */
function streakStart(b: BackendRuntime, now: number): number {
  if (b.drained) return -Infinity;
  let t = Infinity;
  if (isEjected(b.passive, now) && b.ejectedSince !== 0) t = b.ejectedSince;
  // Set at a failed check, cleared once the check is up again and passing (active-check.ts).
  const f = b.health.check.firstFailureAt;
  if (f !== 0 && f < t) t = f;
  return t === Infinity ? -Infinity : t;
}
