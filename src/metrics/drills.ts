/**
 * Drill series (docs/metrics.md, "Drills"): when each tenant last passed a drill and how often
 * its tier needs one (the DrproxyDrillOverdue alert compares the two), and drills by trigger and
 * final status. One series per tenant, whatever metrics.detail says: the alert needs the tenant.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TenantConfig } from '../config/types.js';
import type { AnyDrillReport, DrillStore } from '../drill/types.js';
import { lastSuccess } from '../drill/last-drills.js';

export class DrillMetrics {
  private readonly lastOk: Gauge<'tenant'>;
  private readonly interval: Gauge<'tenant'>;
  private readonly total: Counter<'trigger' | 'status'>;
  private tenants = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.lastOk = new Gauge({ name: 'drproxy_drill_last_success_timestamp_seconds', help: 'When the tenant last passed a drill (its end), Unix time; absent until it has', labelNames: ['tenant'], registers });
    this.interval = new Gauge({ name: 'drproxy_drill_required_interval_seconds', help: "The tenant's tier drill_interval: the longest it may go without a passed drill", labelNames: ['tenant'], registers });
    this.total = new Counter({ name: 'drproxy_drills_total', help: 'Drills by trigger (operator, schedule, region) and final status (passed, failed, aborted, refused, interrupted, skipped)', labelNames: ['trigger', 'status'], registers });
  }

  /** The fleet (start and every reload): required intervals; removed tenants lose their series. Returns the tenants added. */
  configure(tenants: readonly Pick<TenantConfig, 'name' | 'tier'>[]): string[] {
    const next = new Set(tenants.map((t) => t.name));
    for (const t of this.tenants) {
      if (next.has(t)) continue;
      this.lastOk.remove({ tenant: t });
      this.interval.remove({ tenant: t });
    }
    for (const t of tenants) this.interval.set({ tenant: t.name }, t.tier.drill_interval / 1000);
    const added = [...next].filter((t) => !this.tenants.has(t));
    this.tenants = next;
    return added;
  }

  /** At start-up (and for tenants a reload adds): each tenant's last passed drill, from the store. */
  async load(store: DrillStore, only?: readonly string[]): Promise<void> {
    for (const t of only ?? [...this.tenants]) {
      if (!this.tenants.has(t)) continue;
      const at = await lastSuccess(store, t);
      if (at !== undefined) this.lastOk.set({ tenant: t }, at / 1000);
    }
  }

  /** A drill reached its final status (region summaries are not counted: their drills are). */
  finished(r: AnyDrillReport): void {
    if (r.kind !== 'drproxy.drill' || r.status === 'running') return;
    this.total.inc({ trigger: r.trigger, status: r.status });
    if (r.status === 'passed' && this.tenants.has(r.tenant)) this.lastOk.set({ tenant: r.tenant }, Date.parse(r.ended_at ?? r.started_at) / 1000);
  }
}
