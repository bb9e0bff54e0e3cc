/**
 * The fleet as the operator console shows it (contract.ts): one compact TenantSummary per
 * tenant, read straight from its controller (state, config, each site's health now), and the
 * counts by phase. No I/O and no awaits: at 5,000 tenants a whole snapshot is built in a few
 * milliseconds (see docs/console.md), so GET /fleet and each SSE client's first event build one
 * fresh instead of keeping a copy up to date.
 */
import type { TenantController } from '../failover/tenant-controller.js';
import type { FleetSnapshot, TenantSummary } from './contract.js';

export type FleetCounts = FleetSnapshot['counts'];

/** What the snapshot says besides the tenants (version, kill switch, cluster role). */
export type FleetMeta = Pick<FleetSnapshot, 'version' | 'automatic'> & Partial<Pick<FleetSnapshot, 'cluster'>>;

export function tenantSummary(c: TenantController, now: number): TenantSummary {
  const s = c.state;
  const cfg = c.config;
  const preferred = cfg.sites[0]?.name ?? s.active;
  const regions: string[] = [];
  for (const site of c.sites) {
    const r = site.cfg.region;
    if (r !== undefined && !regions.includes(r)) regions.push(r);
  }
  return {
    name: c.name,
    tier: cfg.tier.name,
    phase: s.phase,
    epoch: s.epoch,
    active: s.active,
    preferred,
    off_preferred: s.active !== preferred,
    ...(s.frozen_cause !== undefined && { frozen_cause: s.frozen_cause }),
    regions,
    fenced: s.fenced,
    sites_available: availableSites(c, now),
    sites: c.sites.length,
    ...(s.reason && { reason: s.reason }),
    ...(s.updated_at && { updated_at: s.updated_at }),
  };
}

/** How many of the tenant's sites are available by health now. */
export function availableSites(c: TenantController, now: number): number {
  let n = 0;
  for (const site of c.sites) if (site.health(now).available) n++;
  return n;
}

/** Tenants by phase, off their preferred site, and in all (cheap: no health read). */
export function fleetCounts(controllers: Iterable<TenantController>): FleetCounts {
  const counts: FleetCounts = { active: 0, failing_over: 0, frozen: 0, off_preferred: 0, total: 0 };
  for (const c of controllers) {
    counts[c.state.phase]++;
    if (c.state.active !== c.config.sites[0]?.name) counts.off_preferred++;
    counts.total++;
  }
  return counts;
}

export function fleetSnapshot(controllers: Iterable<TenantController>, meta: FleetMeta, now: number): FleetSnapshot {
  const tenants: TenantSummary[] = [];
  const counts: FleetCounts = { active: 0, failing_over: 0, frozen: 0, off_preferred: 0, total: 0 };
  for (const c of controllers) {
    const t = tenantSummary(c, now);
    tenants.push(t);
    counts[t.phase]++;
    if (t.off_preferred) counts.off_preferred++;
    counts.total++;
  }
  const a = meta.automatic;
  const automatic = { enabled: a.enabled, ...(a.reason && { reason: a.reason }), ...(a.by && { by: a.by }) };
  return { at: new Date(now).toISOString(), version: meta.version, counts, automatic, ...(meta.cluster && { cluster: meta.cluster }), tenants };
}
