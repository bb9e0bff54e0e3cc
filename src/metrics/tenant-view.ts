/**
 * What /metrics shows of a tenant's state, read from its controller at scrape time (never per
 * request): phase and frozen cause, the active site, and per site availability (min_healthy),
 * staleness (tier RPO), fencing and its backends.
 */
import type { TenantController } from '../failover/tenant-controller.js';
import type { TenantPhase } from '../state/types.js';
import { isEjected } from '../health/outlier.js';

export interface BackendView {
  name: string;
  /** May take traffic: healthy, not ejected, not drained. */
  up: boolean;
  /** Down by its active checks or ejected by passive health, and not drained by an operator. */
  down: boolean;
}

export interface SiteView {
  name: string;
  /** At least min_healthy backends up. */
  available: boolean;
  /** Data older than the tier RPO. */
  stale: boolean;
  fenced: boolean;
  /** Standby readiness (failover/readiness.ts): a flip could land here now. */
  ready: boolean;
  dataAge: number | undefined;
  backends: BackendView[];
}

export interface TenantView {
  name: string;
  tier: string;
  phase: TenantPhase;
  /** The frozen cause, '' when not frozen. */
  cause: string;
  active: string;
  epoch: number;
  /** In preference order: the first is the preferred site. */
  sites: SiteView[];
}

export function viewOf(c: TenantController, now: number): TenantView {
  const s = c.state;
  const rpo = c.config.tier.rpo;
  const ready = c.readinessAll(now);
  return {
    name: c.name,
    tier: c.config.tier.name,
    phase: s.phase,
    cause: s.phase === 'frozen' ? (s.frozen_cause ?? '') : '',
    active: s.active,
    epoch: s.epoch,
    sites: c.sites.map((site, i) => ({
      name: site.name,
      available: site.health(now).available,
      stale: site.stale(rpo),
      fenced: s.fenced.includes(site.name),
      ready: ready[i]!.ready,
      dataAge: site.dataAgeSeconds(),
      backends: site.backends.map((b) => ({
        name: b.backend.name,
        up: site.stateOf(b, now) === 'up',
        down: !b.drained && (b.health.check.state === 'down' || isEjected(b.passive, now)),
      })),
    })),
  };
}
