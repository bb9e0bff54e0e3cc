/**
 * The per-tenant state families, rendered at scrape from TenantView (read from the control
 * plane by the scrape, never per request). Which series a tenant gets depends on its detail
 * level (docs/metrics.md).
 */
import { labels, type TextWriter } from './exposition.js';
import type { TenantMetrics } from './tenant.js';
import type { TenantView } from './tenant-view.js';

export interface Viewed {
  view: TenantView;
  /** undefined for a controller whose tenant has no record (cannot happen once described). */
  m: TenantMetrics | undefined;
}

const PHASES = ['active', 'failing_over', 'frozen'] as const;

/** A gauge with one series per tenant: `value(view)`. */
function perTenant(w: TextWriter, list: readonly Viewed[], name: string, help: string, value: (v: TenantView) => number): void {
  w.family(name, 'gauge', help);
  for (const { view, m } of list) w.sample(name, m?.lbl ?? labels({ tenant: view.name }), value(view));
}

function count<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  let n = 0;
  for (const x of xs) if (pred(x)) n++;
  return n;
}

export function renderPhases(w: TextWriter, list: readonly Viewed[]): void {
  const byPhase = new Map<string, number>(PHASES.map((p) => [p, 0]));
  for (const { view } of list) byPhase.set(view.phase, (byPhase.get(view.phase) ?? 0) + 1);
  w.family('drproxy_tenants', 'gauge', 'Tenants by phase (active, failing_over, frozen)');
  for (const [phase, n] of byPhase) w.sample('drproxy_tenants', labels({ phase }), n);
  w.family('drproxy_tenant_phase', 'gauge', 'Always 1: the tenant phase (active, failing_over, frozen) and, when frozen, why (no_site, fence_failed, promote_failed, state_lost, drill_interrupted)');
  for (const { view, m } of list) w.sample('drproxy_tenant_phase', `${m?.lbl ?? labels({ tenant: view.name })},${labels({ phase: view.phase, cause: view.cause })}`, 1);
  perTenant(w, list, 'drproxy_tenant_on_preferred_site', '1 when the active site is the first listed site and the tenant is not frozen', (v) => (v.phase !== 'frozen' && v.sites[0]?.name === v.active ? 1 : 0));
  perTenant(w, list, 'drproxy_tenant_sites_unavailable', 'Sites of the tenant (active or standby) with fewer healthy backends than min_healthy', (v) => count(v.sites, (s) => !s.available));
  perTenant(w, list, 'drproxy_tenant_sites_stale', 'Sites of the tenant whose reported data age exceeds the tier RPO', (v) => count(v.sites, (s) => s.stale));
  perTenant(w, list, 'drproxy_tenant_sites_fenced', 'Sites of the tenant fenced (no traffic until unfenced or failed back to)', (v) => count(v.sites, (s) => s.fenced));
  perTenant(w, list, 'drproxy_tenant_backends_down', 'Backends of the tenant down (active checks or passive ejection) and not drained', (v) => {
    let n = 0;
    for (const s of v.sites) n += count(s.backends, (b) => b.down);
    return n;
  });
}

export function renderRouting(w: TextWriter, list: readonly Viewed[]): void {
  w.family('drproxy_active_site', 'gauge', '1 for the site that takes the tenant traffic, 0 for the others (at tenant detail: only the active site)');
  for (const { view, m } of list) {
    const routed = view.phase !== 'frozen';
    const lbl = m?.lbl ?? labels({ tenant: view.name });
    for (const s of view.sites) {
      const on = routed && s.name === view.active ? 1 : 0;
      if (on === 1 || !m?.folded) w.sample('drproxy_active_site', `${lbl},${labels({ site: s.name })}`, on);
    }
  }
  perTenant(w, list, 'drproxy_epoch', 'Fencing epoch of the tenant', (v) => v.epoch);
  w.family('drproxy_backend_up', 'gauge', '1 when the backend may take traffic (healthy, not ejected, not drained); backend detail only');
  for (const { view, m } of list) {
    if (m && m.level !== 'backend') continue;
    const lbl = m?.lbl ?? labels({ tenant: view.name });
    for (const s of view.sites) for (const b of s.backends) w.sample('drproxy_backend_up', `${lbl},${labels({ site: s.name, backend: b.name })}`, b.up ? 1 : 0);
  }
  w.family('drproxy_site_data_age_seconds', 'gauge', 'Data age reported by the site health answer (RPO gate); site detail and above');
  for (const { view, m } of list) {
    if (m?.folded) continue;
    const lbl = m?.lbl ?? labels({ tenant: view.name });
    for (const s of view.sites) if (s.dataAge !== undefined) w.sample('drproxy_site_data_age_seconds', `${lbl},${labels({ site: s.name })}`, s.dataAge);
  }
}
