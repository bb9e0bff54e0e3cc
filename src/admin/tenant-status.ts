/**
 * A tenant as GET /status and GET /tenants/:t show it: its state, each site's health and
 * readiness, each backend's checks, the next scheduled drill, and (asked for) its recent flips.
 */
import type { TenantController } from '../failover/tenant-controller.js';
import { readinessFields } from '../failover/readiness.js';
import { isEjected } from '../health/outlier.js';
import type { TenantDetail } from '../console/contract.js';

export function tenantStatusJson(c: TenantController, withFlips: boolean, nextDrill: number | undefined): TenantDetail {
  const name = c.name;
  const s = c.state;
  const cfg = c.config;
  const now = Date.now();
  const ready = c.readinessAll(now);
  return {
    name,
    tier: cfg.tier.name,
    rpo_seconds: cfg.tier.rpo / 1000,
    rto_seconds: cfg.tier.rto / 1000,
    phase: s.phase,
    epoch: s.epoch,
    active: s.active,
    fenced: s.fenced,
    ...(s.frozen_cause && { frozen_cause: s.frozen_cause }),
    mode: cfg.failover.mode,
    failback: cfg.failover.failback,
    reason: s.reason,
    updated_at: s.updated_at,
    hosts: cfg.hosts,
    sites: c.sites.map((site, i) => {
      const h = site.health(now);
      const age = site.dataAgeSeconds();
      return {
        name: site.name,
        ...(site.cfg.region && { region: site.cfg.region }),
        ...(site.cfg.zone && { zone: site.cfg.zone }),
        available: h.available,
        stale: site.stale(cfg.tier.rpo),
        ...(age !== undefined && { data_age_seconds: age }),
        ...readinessFields(ready[i]!),
        backends: site.backends.map((b) => ({
          name: b.backend.name,
          url: b.backend.origin,
          state: b.health.check.state,
          drained: b.drained,
          ejected: isEjected(b.passive, now),
          ...(cfg.proxy.standby_connections > 0 && { standby_connections: b.backend.standbySockets.idle }),
          ...(b.health.check.lastResult && {
            last_check: { ok: b.health.check.lastResult.ok, status: b.health.check.lastResult.status, error: b.health.check.lastResult.error, at: new Date(b.health.check.lastResult.at).toISOString() },
          }),
        })),
      };
    }),
    ...(nextDrill !== undefined && { next_scheduled_drill: new Date(nextDrill).toISOString() }),
    ...(withFlips && { flips: c.flips }),
  };
}
