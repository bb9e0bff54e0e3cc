/**
 * Prometheus metrics: one instance per proxy (tests run several), names from the design and
 * issue 17 (docs/metrics.md), base units, `_total` on counters.
 *
 * Two halves. prom-client's Registry holds the fleet-level families (build info, reloads,
 * connections, admin and fault counters, Node defaults) and the latency histograms
 * (request-latency.ts). The per-tenant families are kept in plain numbers and rendered as text
 * at scrape (exposition.ts says why), with as much detail as `metrics.detail` gives each
 * tenant. Control-plane state is read at scrape from the controllers, never per request.
 */
import { Counter, Registry } from 'prom-client';
import type { MetricsConfig, TenantConfig } from '../config/types.js';
import type { FlipRecord } from '../failover/flip.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { CheckTally } from '../health/active-check.js';
import { RequestLatencyMetric, type LatencySeries } from '../request-latency.js';
import { ConnectionMetrics, type ConnectionCounts } from './connections.js';
import { TextWriter } from './exposition.js';
import { FailoverDurations } from './failover-duration.js';
import { FleetMetrics, registerDefaultMetrics } from './fleet.js';
import { renderPhases, renderRouting, type Viewed } from './render-state.js';
import { renderReadiness } from './render-readiness.js';
import { renderFlips, renderHealth, renderObjectives, renderRequests } from './render-traffic.js';
import { DEFAULT_METRICS } from '../config/defaults.js';
import { DrillMetrics } from './drills.js';
import { Fleet, TenantMetrics, add, detailOf, type DetailLevel } from './tenant.js';
import { viewOf } from './tenant-view.js';
import { TenantTraffic } from './traffic.js';

export { FAILOVER_BUCKETS } from './failover-duration.js';
export { SiteChecks, TenantTraffic, type CheckSink } from './traffic.js';
export type { ConnectionCounts } from './connections.js';
export type { DetailLevel } from './tenant.js';

export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const HEALTH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A tenant site and its checks' tallies, listed at each scrape. */
export interface SiteTallies {
  tenant: string;
  site: string;
  tallies: readonly CheckTally[];
}

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /** The clock of the RTO window (tests); Date.now by default. */
  now?: () => number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly healthCheckDuration: RequestLatencyMetric;
  readonly requestDuration: RequestLatencyMetric;
  readonly adminRequests: Counter<'action' | 'result'>;
  readonly fleetEvents: FleetMetrics;
  /** Drills: last success, required interval, drills by trigger and status (drills.ts). */
  readonly drills: DrillMetrics;
  private readonly connections: ConnectionMetrics;
  private readonly tenants = new Map<string, TenantMetrics>();
  private readonly fleet: Fleet;
  private readonly durations = new FailoverDurations();
  private readonly now: () => number;
  private cfg: MetricsConfig = { ...DEFAULT_METRICS, full_detail: [] };
  private levelOf: (tenant: string) => DetailLevel = () => 'backend';
  private stateSource: (() => Iterable<TenantController>) | undefined;
  private checkSource: (() => Iterable<SiteTallies>) | undefined;
  /** drproxy_probes_inconclusive_total: each check's tally counted once, however many tenants list it. */
  private probesSeen = new Map<CheckTally, number>();
  private probesInconclusive = 0;

  constructor(opts: MetricsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.healthCheckDuration = new RequestLatencyMetric('drproxy_health_check_duration_seconds', 'Active health check duration (at tenant detail: fleet-wide, without tenant and site)', HEALTH_BUCKETS, () => this.checkSeries(), this.registry);
    this.requestDuration = new RequestLatencyMetric('drproxy_request_duration_seconds', 'Time from request to the end of the answer (at tenant detail: fleet-wide, without tenant)', REQUEST_BUCKETS, () => this.requestSeries(), this.registry);
    this.fleet = new Fleet(this.requestDuration.counts(), this.healthCheckDuration.counts());
    this.adminRequests = new Counter({ name: 'drproxy_admin_requests_total', help: 'Admin API mutations by action and result', labelNames: ['action', 'result'], registers: [this.registry] });
    this.connections = new ConnectionMetrics(this.registry);
    this.fleetEvents = new FleetMetrics(this.registry);
    this.drills = new DrillMetrics(this.registry);
    if (opts.defaultMetrics !== false) registerDefaultMetrics(this.registry);
  }

  /** The metrics settings and the fleet they apply to (start and every reload). */
  configure(cfg: MetricsConfig, tenants: readonly Pick<TenantConfig, 'name'>[]): void {
    this.cfg = cfg;
    this.levelOf = detailOf(cfg, tenants.length);
    for (const m of this.tenants.values()) m.setLevel(this.levelOf(m.name), this.fleet);
  }

  setConnectionSource(counts: ConnectionCounts): void {
    this.connections.data = counts;
  }

  setHttp2Source(source: { readonly sessions: ReadonlySet<unknown> }): void {
    this.connections.http2 = source;
  }

  setAdminConnectionSource(counts: ConnectionCounts): void {
    this.connections.admin = counts;
  }

  /** The tenants' controllers, read at each scrape for the state families. */
  setStateSource(fn: () => Iterable<TenantController>): void {
    this.stateSource = fn;
  }

  /** Where the health-check series come from: every tenant site with its checks' tallies. */
  setCheckSource(fn: () => Iterable<SiteTallies>): void {
    this.checkSource = fn;
  }

  private record(tenant: string): TenantMetrics {
    let m = this.tenants.get(tenant);
    if (!m) {
      m = new TenantMetrics(tenant, new TenantTraffic(tenant, this.requestDuration.counts()), () => this.healthCheckDuration.counts());
      m.setLevel(this.levelOf(tenant), this.fleet);
      this.tenants.set(tenant, m);
    }
    return m;
  }

  /** The hot-path accounting object of a tenant (created once, kept across reloads). */
  trafficOf(tenant: string): TenantTraffic {
    return this.record(tenant).traffic;
  }

  /** Static per-tenant series: tier objectives; failover counters at 0. */
  describeTenant(t: TenantConfig): void {
    this.record(t.name).tier = { name: t.tier.name, rto: t.tier.rto, rpo: t.tier.rpo };
  }

  ejected(tenant: string, site: string, kind: string): void {
    const m = this.record(tenant);
    if (m.folded) add(this.fleet.ejections, kind);
    else add(m.ejections, `${site}\0${kind}`);
  }

  slowUnconfirmed(tenant: string, site: string): void {
    const m = this.record(tenant);
    if (m.folded) this.fleet.slow++;
    else add(m.slow, site);
  }

  flip(r: FlipRecord, tier: { rto: number }): void {
    const m = this.record(r.tenant);
    m.flips.count(r.trigger, r.result);
    if (r.drain) m.flips.drainInflight.set(r.from, r.drain.inflight);
    if (r.result !== 'routed') return;
    const seconds = r.durationMs / 1000;
    if (m.level === 'backend') this.durations.observe(r.tenant, { tenant: r.tenant, tier: r.tier, trigger: r.trigger, from_site: r.from, to_site: r.to }, seconds);
    else this.durations.observe(undefined, { tier: r.tier, trigger: r.trigger }, seconds);
    m.flips.routed(r.timings.routedAt, r.tier, r.durationMs / tier.rto, this.cfg.rto_window);
  }

  /** Forget every series of a tenant removed by a reload (fleet-wide sums keep what it gave). */
  removeTenant(t: Pick<TenantConfig, 'name'>): void {
    this.tenants.delete(t.name);
    this.durations.removeTenant(t.name);
  }

  private *requestSeries(): Iterable<LatencySeries> {
    for (const m of this.tenants.values()) if (!m.folded) yield { labels: { tenant: m.name }, latency: m.traffic.own };
    if (this.fleet.used) yield { labels: {}, latency: this.fleet.latency };
  }

  private *checkSeries(): Iterable<LatencySeries> {
    for (const m of this.tenants.values()) if (!m.folded) for (const [site, c] of m.traffic.checks) yield { labels: { tenant: m.name, site }, latency: c.duration };
    if (this.fleet.used) yield { labels: {}, latency: this.fleet.checks.duration };
  }

  /** Folds the checks' tallies into each tenant site (and the fleet's probe count). */
  private foldChecks(): void {
    if (!this.checkSource) return;
    const seen = new Map<CheckTally, number>();
    for (const s of this.checkSource()) {
      this.record(s.tenant).siteChecks(s.site, this.fleet).fold(s.tallies);
      for (const t of s.tallies) {
        if (seen.has(t)) continue;
        this.probesInconclusive += t.inconclusive - (this.probesSeen.get(t) ?? 0);
        seen.set(t, t.inconclusive);
      }
    }
    this.probesSeen = seen;
  }

  /** The per-tenant families and the fleet-wide ones computed from them, as text. */
  private renderTenants(): string {
    const now = this.now();
    const w = new TextWriter();
    const viewed: Viewed[] = [];
    if (this.stateSource) for (const c of this.stateSource()) viewed.push({ view: viewOf(c, now), m: this.tenants.get(c.name) });
    renderPhases(w, viewed);
    renderRouting(w, viewed);
    renderReadiness(w, viewed);
    const all = this.tenants.values.bind(this.tenants);
    renderObjectives(w, all());
    renderFlips(w, all(), now, this.cfg.rto_window);
    this.durations.render(w);
    renderRequests(w, all(), this.fleet);
    renderHealth(w, all(), this.fleet);
    w.family('drproxy_probes_inconclusive_total', 'counter', 'Health probes whose result was ignored because drproxy itself was late (overloaded): each shared probe counted once');
    w.sample('drproxy_probes_inconclusive_total', '', this.probesInconclusive);
    return w.text();
  }

  async text(): Promise<string> {
    this.foldChecks();
    const own = this.renderTenants();
    const text = await this.registry.metrics();
    // OpenMetrics (if a caller chose it) must end with # EOF; our text is 0.0.4-compatible.
    return text.endsWith('# EOF\n') ? `${text.slice(0, -6)}${own}# EOF\n` : text + own;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
