/**
 * Passive health policy (outlier ejection): when real traffic fails on a backend
 * `consecutive_failures` times in a row, the backend is ejected for a back-off that doubles
 * with each ejection (base_ejection … max_ejection), unless that would eject more than
 * `max_ejected_percent` of its site (one backend may always be ejected, as in Envoy, so a
 * one-backend site can be detected dead from traffic alone). The cap guards a healthy site
 * against a storm of false ejections; it is lifted (`wholeSiteFailing`) when every other
 * backend of the site is ejected or failing too: then the site is down, and saying so is what
 * makes the tenant fail over.
 */
import type { PassiveHealthConfig } from '../config/types.js';

export interface Ejectable {
  /** Ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil: number;
  /** Ejections so far in the current series (drives the back-off). */
  ejections: number;
  /** End of the last ejection, to forget old ejections. */
  lastEjectionEnd: number;
}

export function newEjectable(): Ejectable {
  return { ejectedUntil: 0, ejections: 0, lastEjectionEnd: 0 };
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
  return ms;
}
