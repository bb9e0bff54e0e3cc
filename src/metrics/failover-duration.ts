/**
 * drproxy_failover_duration_seconds: per tenant (with tier, trigger, from_site, to_site) for
 * tenants at backend detail, by {tier, trigger} for the others. Counted in plain arrays
 * (request-latency.ts) and rendered with the tenant families.
 */
import { LatencyCounts } from '../request-latency.js';
import { labels, type TextWriter } from './exposition.js';

/** 10 ms … 72 h, so that every tier's RTO (15 m … 72 h) falls inside. */
export const FAILOVER_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 12 * 3600,
  24 * 3600, 48 * 3600, 72 * 3600,
];

const NAME = 'drproxy_failover_duration_seconds';
const HELP = 'Failover duration, from detection start (the first failure of the streak that took the site below min_healthy, or the operator request) to traffic on the new site';

export class FailoverDurations {
  private readonly bounds = Float64Array.from(FAILOVER_BUCKETS);
  private readonly les = FAILOVER_BUCKETS.map(String);
  /** By rendered labels; `tenant` set for per-tenant series (removed with the tenant). */
  private readonly series = new Map<string, { tenant: string | undefined; counts: LatencyCounts }>();

  observe(tenant: string | undefined, pairs: Record<string, string>, seconds: number): void {
    const lbl = labels(pairs);
    let s = this.series.get(lbl);
    if (!s) this.series.set(lbl, (s = { tenant, counts: new LatencyCounts(this.bounds) }));
    s.counts.observe(seconds);
  }

  removeTenant(tenant: string): void {
    for (const [k, s] of this.series) if (s.tenant === tenant) this.series.delete(k);
  }

  render(w: TextWriter): void {
    w.family(NAME, 'histogram', HELP);
    for (const [lbl, s] of this.series) w.histogram(NAME, lbl, this.les, s.counts);
  }
}
