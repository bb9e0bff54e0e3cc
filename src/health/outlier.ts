/**
 * Passive health policy (outlier ejection): when real traffic fails on a backend
 * `consecutive_failures` times in a row, the backend is ejected for a back-off that doubles
 * with each ejection (base_ejection … max_ejection), unless that would eject more than
 * `max_ejected_percent` of its site (one backend may always be ejected, as in Envoy, so a
 * one-backend site can be detected dead from traffic alone). The cap guards a healthy site
 * against a storm of false ejections; it is lifted (`wholeSiteFailing`) when every other
 * backend of the site is ejected or failing too: then the site is down, and saying so is what
 * makes the tenant fail over.
 *
 * With `uneject_on_probe_success` (the default, as Envoy's successful_active_health_check_uneject_host)
 * a probe that passes ends an ejection early (probeUnejects). As in Envoy, that keeps the
 * ejection count: the next ejection's back-off is still doubled, and the count is forgotten
 * only after a quiet max_ejection counted from when the ejection really ended.
 */
import type { PassiveHealthConfig } from '../config/types.js';

export interface Ejectable {
  /** Ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil: number;
  /** Ejections so far in the current series (drives the back-off). */
  ejections: number;
  /** End of the last ejection, to forget old ejections. */
  lastEjectionEnd: number;
  /** Start of the current (or last) ejection; 0 before the first. */
  ejectedAt: number;
}

export function newEjectable(): Ejectable {
  return { ejectedUntil: 0, ejections: 0, lastEjectionEnd: 0, ejectedAt: 0 };
}

export function isEjected(e: Ejectable, now: number): boolean {
  return e.ejectedUntil > now;
}

/**
 * Try to eject `target` among its site's `peers` (target included). Returns the ejection time
 * in ms, or undefined when the site's ejection cap is reached or the backend is already out.
 */
export function tryEject(
  cfg: PassiveHealthConfig,
  target: Ejectable,
  peers: readonly Ejectable[],
  now: number,
  wholeSiteFailing = false,
): number | undefined {
  if (isEjected(target, now)) return undefined;
  const ejected = peers.filter((p) => isEjected(p, now)).length;
  const cap = Math.max(1, Math.floor((peers.length * cfg.max_ejected_percent) / 100));
  if (ejected >= cap && !wholeSiteFailing) return undefined;
  // A backend that behaved for a whole max_ejection since its last ejection starts afresh.
  if (target.lastEjectionEnd !== 0 && now - target.lastEjectionEnd > cfg.max_ejection) target.ejections = 0;
  const ms = Math.min(cfg.max_ejection, cfg.base_ejection * 2 ** target.ejections);
  target.ejections++;
  target.ejectedUntil = now + ms;
  target.lastEjectionEnd = now + ms;
  target.ejectedAt = now;
  return ms;
}

/** A probe's result as seen by the ejection policy. */
export interface ProbeOutcome {
  ok: boolean;
  inconclusive?: boolean;
  /** When the probe ended (ms since epoch) and how long it took: it was sent at `at - durationMs`. */
  at: number;
  durationMs: number;
}

/**
 * Whether this probe result lets an ejected backend back now: it passed, the backend's active
 * check is `up` after it (a backend that was down must first rise, `rise` passes in a row, as
 * any other), and it was sent after the ejection began. A probe already in flight when the
 * backend was ejected says nothing about what was seen after it: in particular a loop probe
 * sent before slow answers were confirmed by a failing probe must not undo that confirmation.
 */
export function probeUnejects(e: Ejectable, probe: ProbeOutcome, checkUp: boolean, now: number): boolean {
  if (!probe.ok || probe.inconclusive === true || !checkUp || !isEjected(e, now)) return false;
  return probe.at - probe.durationMs >= e.ejectedAt;
}

/** End an ejection now; the ejection count (back-off) is kept, and decays from now. */
export function uneject(e: Ejectable, now: number): void {
  e.ejectedUntil = 0;
  e.lastEjectionEnd = now;
}
