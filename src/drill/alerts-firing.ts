/**
 * "An alert is firing for the tenant", as drproxy itself knows it (docs/drills.md): a scheduled
 * drill is skipped while any of these holds, because a drill would add a planned flip to a
 * tenant that already needs an operator. Only what this process observes is used, not
 * Prometheus: the tenant frozen or failing over, its coordinator lost (clustered), an operator
 * alert standing (failover/tenant-alerts.ts: no site available, a flip refused...), or a site of
 * the tenant not ready (failover/readiness.ts: the drproxy_site_ready alert).
 */
import type { TenantController } from '../failover/tenant-controller.js';
import { siteReadiness, type HookChecks } from '../failover/readiness.js';
import type { DrillReason } from './types.js';

/** The hooks' last `check` answers of a site (the readiness monitor); none known: {}. */
export type HookChecksOf = (tenant: string, site: string) => HookChecks;

export function alertsFiring(c: TenantController, now: number, hooks: HookChecksOf = () => ({})): DrillReason[] {
  const out: DrillReason[] = [];
  const s = c.state;
  if (s.phase === 'frozen') out.push({ code: 'alert_frozen', message: `tenant is frozen${s.frozen_cause ? ` (${s.frozen_cause})` : ''}` });
  if (s.phase === 'failing_over') out.push({ code: 'alert_failing_over', message: 'tenant is failing over' });
  if (c.coordinatorLost) out.push({ code: 'alert_coordinator_lost', message: 'this replica lost its coordinator' });
  const standing = c.standingAlert;
  if (standing !== '') out.push({ code: 'alert_tenant', message: `alert standing: ${standing}` });
  for (const site of c.sites) {
    const r = siteReadiness({ site, config: c.config, state: s, hooks: hooks(c.name, site.name), now });
    for (const reason of r.reasons) out.push({ ...reason, code: `alert_not_ready_${reason.code}`, message: `site ${site.name} not ready: ${reason.message}` });
  }
  return out;
}
