/** What the tenant view says about a backend and a site's data. Pure. */
import type { BackendDetail, SiteDetail } from './model.js';

export type BackendHealth = 'up' | 'down' | 'ejected' | 'drained' | 'unknown';

/** Drained (by an operator) says more than ejected (passive checks), which says more than the active check. */
export function backendHealth(b: Pick<BackendDetail, 'state' | 'drained' | 'ejected'>): BackendHealth {
  if (b.drained) return 'drained';
  if (b.ejected) return 'ejected';
  return b.state;
}

export type DataAge = { known: false } | { known: true; seconds: number; rpoSeconds: number; ratio: number; stale: boolean };

export function dataAge(site: Pick<SiteDetail, 'data_age_seconds' | 'stale'>, rpoSeconds: number): DataAge {
  if (site.data_age_seconds === undefined) return { known: false };
  const s = site.data_age_seconds;
  return { known: true, seconds: s, rpoSeconds, ratio: rpoSeconds > 0 ? s / rpoSeconds : Infinity, stale: site.stale || s > rpoSeconds };
}
