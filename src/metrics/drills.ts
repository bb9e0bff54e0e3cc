/**
 * Drill series (docs/metrics.md, "Drills"): when each tenant last passed a drill, how often each
 * tier needs one (the DrproxyDrillOverdue alert compares the two), and drills by trigger and
 * final status. The required interval is a tier's, one series per tier; the last success is
 * the tenant's, present from its first passed drill on, whatever metrics.detail says (the
 * alert needs the tenant), which keeps an idle tenant within the `tenant` detail budget.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TenantConfig } from '../config/types.js';
import type { AnyDrillReport, DrillStatus, DrillStore, DrillTrigger } from '../drill/types.js';
import { lastSuccess } from '../drill/last-drills.js';

/**
 * Every trigger × final status a drill can end with, at 0 from start-up so that increase()
 * sees the first drill of each. The counter has no tenant label: 16 series per proxy, none per
 * tenant (outside the per-tenant budget). Only scheduled drills are skipped (drill/skipped.ts).
 */
const FINAL: ReadonlyArray<[DrillTrigger, DrillStatus]> = [
  ...(['operator', 'schedule', 'region'] as const).flatMap((t) => (['passed', 'failed', 'aborted', 'refused', 'interrupted'] as const).map((s): [DrillTrigger, DrillStatus] => [t, s])),
  ['schedule', 'skipped'],
];

export class DrillMetrics {
  private readonly lastOk: Gauge<'tenant' | 'tier'>;
  private readonly interval: Gauge<'tier'>;
  private readonly total: Counter<'trigger' | 'status'>;
  /** Tenant → its tier name (the label of its last-success series). */
  private tenants = new Map<string, string>();
  /** Tenant → its last success (s), to move the series when a reload changes its tier. */
  private readonly last = new Map<string, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.lastOk = new Gauge({ name: 'drproxy_drill_last_success_timestamp_seconds', help: 'When the tenant last passed a drill (its end), Unix time; absent until it has', labelNames: ['tenant', 'tier'], registers });
    this.interval = new Gauge({ name: 'drproxy_drill_required_interval_seconds', help: "The tier's drill_interval: the longest a tenant of it may go without a passed drill", labelNames: ['tier'], registers });
    this.total = new Counter({ name: 'drproxy_drills_total', help: 'Drills by trigger (operator, schedule, region) and final status (passed, failed, aborted, refused, interrupted, skipped)', labelNames: ['trigger', 'status'], registers });
    for (const [trigger, status] of FINAL) this.total.inc({ trigger, status }, 0);
  }

  /** The fleet (start and every reload): required intervals of the tiers in use; removed tenants lose their series. Returns the tenants added. */
  configure(tenants: readonly Pick<TenantConfig, 'name' | 'tier'>[]): string[] {
    const next = new Map(tenants.map((t) => [t.name, t.tier.name]));
    for (const [t, tier] of this.tenants) {
      if (next.get(t) === tier) continue;
      this.lastOk.remove({ tenant: t, tier });
      const at = this.last.get(t);
      if (next.has(t) && at !== undefined) this.lastOk.set({ tenant: t, tier: next.get(t)! }, at);
      else this.last.delete(t);
    }
    this.interval.reset();
    for (const t of tenants) this.interval.set({ tier: t.tier.name }, t.tier.drill_interval / 1000);
    const added = [...next.keys()].filter((t) => !this.tenants.has(t));
    this.tenants = next;
    return added;
  }

  /** At start-up (and for tenants a reload adds): each tenant's last passed drill, from the store. */
  async load(store: DrillStore, only?: readonly string[]): Promise<void> {
    for (const t of only ?? [...this.tenants.keys()]) {
      if (!this.tenants.has(t)) continue;
      const at = await lastSuccess(store, t);
      if (at !== undefined) this.passed(t, at);
    }
  }

  /** A drill reached its final status (region summaries are not counted: their drills are). */
  finished(r: AnyDrillReport): void {
    if (r.kind !== 'drproxy.drill' || r.status === 'running') return;
    this.total.inc({ trigger: r.trigger, status: r.status });
    if (r.status === 'passed') this.passed(r.tenant, Date.parse(r.ended_at ?? r.started_at));
  }

  private passed(tenant: string, atMs: number): void {
    const tier = this.tenants.get(tenant);
    if (tier === undefined) return;
    this.last.set(tenant, atMs / 1000);
    this.lastOk.set({ tenant, tier }, atMs / 1000);
  }
}
