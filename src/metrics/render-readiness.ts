/**
 * Standby readiness at scrape (failover/readiness.ts): `drproxy_site_ready{tenant,site}` for
 * every site of every tenant at site and backend detail, the active one included. At tenant
 * detail, where no per-site series exist, one `drproxy_standby_ready{tenant}` instead: 1 when
 * some site other than the active one is ready, i.e. a flip has a ready place to go
 * (docs/metrics.md).
 */
import type { TextWriter } from './exposition.js';
import { labels } from './exposition.js';
import type { Viewed } from './render-state.js';

export function renderReadiness(w: TextWriter, list: readonly Viewed[]): void {
  w.family('drproxy_site_ready', 'gauge', '1 when a flip could land on the site now (min_healthy backends up, data age within the tier RPO, fence/promote hooks answer their check, not fenced); site detail and above');
  for (const { view, m } of list) {
    if (m?.folded) continue;
    const lbl = m?.lbl ?? labels({ tenant: view.name });
    for (const s of view.sites) w.sample('drproxy_site_ready', `${lbl},${labels({ site: s.name })}`, s.ready ? 1 : 0);
  }
  w.family('drproxy_standby_ready', 'gauge', '1 when some site other than the active one is ready for a flip, 0 when none is; tenant detail only (drproxy_site_ready folded), none for one-site tenants');
  for (const { view, m } of list) {
    if (!m?.folded) continue;
    const standbys = view.sites.filter((s) => s.name !== view.active);
    if (standbys.length > 0) w.sample('drproxy_standby_ready', m.lbl, standbys.some((s) => s.ready) ? 1 : 0);
  }
}
