/**
 * One tenant's metrics record and the detail levels (docs/metrics.md): `backend` (every series
 * per tenant, site and backend), `site` (per tenant and site, no per-backend series) and
 * `tenant` (at most 16 series per tenant; the rest is folded into fleet-wide series without a
 * tenant label, counted in deltas so that fleet totals stay exact).
 */
import type { MetricsConfig } from '../config/types.js';
import { LatencyCounts } from '../request-latency.js';
import { labels } from './exposition.js';
import { AUTOMATIC_TRIGGERS, TRIGGERS, TenantFlips } from './flips.js';
import { type CheckSink, SiteChecks, TenantTraffic } from './traffic.js';

export type DetailLevel = 'tenant' | 'site' | 'backend';

/** Fleet-wide sums of the tenants at `tenant` detail. */
export class Fleet {
  /** Some tenant was folded once: the fleet-wide series exist from then on. */
  used = false;
  readonly checks: CheckSink;
  readonly retries = new Map<string, number>();
  /** drproxy_backend_ejections_total{kind}. */
  readonly ejections = new Map<string, number>();
  slow = 0;

  constructor(
    readonly latency: LatencyCounts,
    checkDurations: LatencyCounts,
  ) {
    this.checks = { ok: 0, fail: 0, inconclusive: 0, duration: checkDurations };
  }
}

export class TenantMetrics {
  /** `tenant="name"`, rendered once. */
  readonly lbl: string;
  level: DetailLevel = 'backend';
  tier: { name: string; rto: number; rpo: number } | undefined;
  readonly flips = new TenantFlips();
  /** drproxy_backend_ejections_total by `site\0kind`, and drproxy_slow_unconfirmed_total by site. */
  readonly ejections = new Map<string, number>();
  readonly slow = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly traffic: TenantTraffic,
    private readonly newCheckCounts: () => LatencyCounts,
  ) {
    this.lbl = labels({ tenant: name });
  }

  get folded(): boolean {
    return this.level === 'tenant';
  }

  /** Points the hot-path counts at this tenant's own series or at the fleet's. */
  setLevel(level: DetailLevel, fleet: Fleet): void {
    this.level = level;
    const folded = level === 'tenant';
    this.traffic.folded = folded;
    this.traffic.latency = folded ? fleet.latency : this.traffic.own;
    for (const c of this.traffic.checks.values()) c.sink = folded ? fleet.checks : c;
    if (folded) fleet.used = true;
    this.flips.init(folded ? AUTOMATIC_TRIGGERS : TRIGGERS);
  }

  siteChecks(site: string, fleet: Fleet): SiteChecks {
    let c = this.traffic.checks.get(site);
    if (!c) {
      this.traffic.checks.set(site, (c = new SiteChecks(this.newCheckCounts())));
      if (this.folded) c.sink = fleet.checks;
    }
    return c;
  }
}

/** The detail of each tenant under `cfg`, for a fleet of `count` tenants. */
export function detailOf(cfg: MetricsConfig | undefined, count: number): (tenant: string) => DetailLevel {
  if (!cfg) return () => 'backend';
  const base: DetailLevel = cfg.detail === 'auto' ? (count <= cfg.detail_auto_limit ? 'backend' : 'tenant') : cfg.detail;
  const full = new Set(cfg.full_detail);
  return (tenant) => (full.has(tenant) ? 'backend' : base);
}

export function add<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}
