/**
 * What a tenant controller rebuilt by a reload takes over from the one it replaces, so that a
 * reload is not a reset of the failover rules (decide.ts):
 *  - the time of the last flip, and the recent flip records: min_interval keeps spacing flips
 *    across a reload (a failback right after one cannot ping-pong);
 *  - for each site that is still there with the same backends, health check and min_healthy:
 *    since when it has been available (the auto failback hold-down keeps counting), and, for
 *    the active site, since when it has been unavailable (trip_after keeps counting).
 * Reset: the memory of a site whose backends, health check or min_healthy changed (its
 * availability means something else now, and a new check starts `unknown`); passive ejections
 * and failure streaks, which belong to the old backends' pools and timers (real traffic
 * detects a failing backend again within consecutive_failures requests, and its probes let it
 * back); and the log de-duplication of alerts.
 */
import type { SiteConfig, TenantConfig } from '../config/types.js';
import { Availability, type DecisionMemory } from './decide.js';

/** The sites of `next` whose availability means what it meant in `prev`. */
export function unchangedSites(prev: TenantConfig, next: TenantConfig): Set<string> {
  const key = (s: SiteConfig): string => JSON.stringify([s.backends, s.health_check, s.min_healthy, s.tls ?? null]);
  const before = new Map(prev.sites.map((s) => [s.name, key(s)]));
  return new Set(next.sites.filter((s) => before.get(s.name) === key(s)).map((s) => s.name));
}

/** The decision memory a rebuilt controller takes over: `active` was the active site, `same` the unchanged sites. */
export function carriedMemory(prev: DecisionMemory, active: string, same: ReadonlySet<string>): DecisionMemory {
  return {
    lastFlipAt: prev.lastFlipAt,
    unavailableSince: same.has(active) ? prev.unavailableSince : 0,
    availability: Availability.carried(prev.availability, same),
  };
}
