/**
 * Prometheus metrics: one prom-client Registry per proxy instance (tests run several), names
 * from the design, base units, `_total` on counters, low-cardinality labels.
 *
 * The hot path does not call prom-client per request for counters: prom-client hashes and
 * validates a label object on every inc() (about 200 ns, measured in bench/), so request and
 * retry counts are plain numbers in a per-tenant object and are folded into the counters by
 * their collect() callbacks at scrape time. The request latency histogram is counted the same
 * way, in a plain array per tenant, and exposed through the registry (request-latency.ts says
 * why: prom-client's observe() was the largest drproxy cost per request).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TenantConfig } from './config/types.js';
import type { FlipRecord } from './failover/flip.js';
import type { TenantState } from './state/types.js';
import { LatencyCounts, RequestLatencyMetric, type LatencySeries } from './request-latency.js';
import type { CheckTally } from './health/active-check.js';

/** 10 ms … 72 h, so that every tier's RTO (15 m … 72 h) falls inside. */
export const FAILOVER_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 12 * 3600,
  24 * 3600, 48 * 3600, 72 * 3600,
];
export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const HEALTH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** What a site's series last took from one check's tally. */
interface TallySeen {
  ok: number;
  fail: number;
  inconclusive: number;
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * Active health checks of one site of a tenant, as exposed: at each scrape, what each of the
 * site's checks counted since the last scrape is added here (a check that leaves the site at a
 * reload keeps what it already gave, so the series never go down).
 */
export class SiteChecks {
  ok = 0;
  fail = 0;
  inconclusive = 0;
  private seen = new Map<CheckTally, TallySeen>();
  constructor(readonly duration: LatencyCounts) {}

  fold(tallies: readonly CheckTally[]): void {
    const next = new Map<CheckTally, TallySeen>();
    for (const t of tallies) {
      if (next.has(t)) continue; // one check listed twice in a site counts once
      const d = t.durations;
      const was = this.seen.get(t) ?? { ok: 0, fail: 0, inconclusive: 0, counts: new Float64Array(this.duration.counts.length), sum: 0, count: 0 };
      this.ok += t.ok - was.ok;
      this.fail += t.fail - was.fail;
      this.inconclusive += t.inconclusive - was.inconclusive;
      const now: TallySeen = { ok: t.ok, fail: t.fail, inconclusive: t.inconclusive, counts: was.counts, sum: was.sum, count: was.count };
      if (d && d.counts.length === now.counts.length) {
        for (let i = 0; i < d.counts.length; i++) {
          this.duration.counts[i]! += d.counts[i]! - now.counts[i]!;
          now.counts[i] = d.counts[i]!;
        }
        this.duration.sum += d.sum - now.sum;
        this.duration.count += d.count - now.count;
        now.sum = d.sum;
        now.count = d.count;
      }
      next.set(t, now);
    }
    this.seen = next;
  }
}

/** The data plane's client connections (ConnectionGuard), read at each scrape. */
export interface ConnectionCounts {
  readonly open: number;
  readonly cap: number;
  readonly refused: Readonly<Record<string, number>>;
}

/** A tenant site and its checks' tallies, listed at each scrape. */
export interface SiteTallies {
  tenant: string;
  site: string;
  tallies: readonly CheckTally[];
}

/** Per-tenant request accounting on the hot path: plain increments. */
export class TenantTraffic {
  /** Responses by status class (index = status / 100 - 1). */
  readonly byClass = new Float64Array(5);
  readonly retries = new Map<string, number>();
  held = 0;
  /** Health checks by site (drproxy_health_checks_total, drproxy_health_check_duration_seconds). */
  readonly checks = new Map<string, SiteChecks>();

  constructor(
    readonly tenant: string,
    /** drproxy_request_duration_seconds of this tenant. */
    readonly latency: LatencyCounts,
  ) {}

  done(status: number, seconds: number): void {
    const i = ((status / 100) | 0) - 1;
    if (i >= 0 && i < 5) this.byClass[i]!++;
    this.latency.observe(seconds);
  }

  retry(kind: string): void {
    this.retries.set(kind, (this.retries.get(kind) ?? 0) + 1);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly failoverDuration: Histogram<'tenant' | 'tier' | 'trigger' | 'from_site' | 'to_site'>;
  readonly failoverRtoRatio: Gauge<'tenant' | 'tier'>;
  readonly rto: Gauge<'tenant' | 'tier'>;
  readonly rpo: Gauge<'tenant' | 'tier'>;
  readonly failovers: Counter<'tenant' | 'trigger' | 'result'>;
  readonly activeSite: Gauge<'tenant' | 'site'>;
  readonly epoch: Gauge<'tenant'>;
  readonly backendUp: Gauge<'tenant' | 'site' | 'backend'>;
  readonly healthChecks: Counter<'tenant' | 'site' | 'result'>;
  readonly healthCheckDuration: RequestLatencyMetric;
  readonly requests: Counter<'tenant' | 'code'>;
  readonly requestDuration: RequestLatencyMetric;
  readonly retries: Counter<'tenant' | 'kind'>;
  readonly held: Gauge<'tenant'>;
  readonly drainInflight: Gauge<'tenant' | 'site'>;
  readonly dataAge: Gauge<'tenant' | 'site'>;
  readonly ejections: Counter<'tenant' | 'site' | 'kind'>;
  readonly slowUnconfirmed: Counter<'tenant' | 'site'>;
  readonly adminRequests: Counter<'action' | 'result'>;
  readonly connectionsOpen: Gauge;
  readonly connectionsLimit: Gauge;
  readonly connectionsRefused: Counter<'reason'>;
  private connections: ConnectionCounts | undefined;
  readonly adminConnectionsOpen: Gauge;
  readonly adminConnectionsRefused: Counter<'reason'>;
  private adminConnections: ConnectionCounts | undefined;
  private readonly traffic = new Map<string, TenantTraffic>();
  private refresher: (() => void) | undefined;
  private checkSource: (() => Iterable<SiteTallies>) | undefined;
  /** What the counters last saw of each tenant's plain counts (to add only the difference). */
  private readonly seen = new Map<string, number>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const self = this;
    this.failoverDuration = new Histogram({
      name: 'drproxy_failover_duration_seconds',
      help: 'Failover duration, from detection start (first failed check or passive failure, or the operator request) to traffic on the new site',
      labelNames: ['tenant', 'tier', 'trigger', 'from_site', 'to_site'],
      buckets: FAILOVER_BUCKETS,
      registers,
    });
    this.failoverRtoRatio = new Gauge({ name: 'drproxy_failover_rto_ratio', help: 'Last failover duration divided by the tier RTO (1 = RTO used up)', labelNames: ['tenant', 'tier'], registers });
    this.rto = new Gauge({ name: 'drproxy_rto_seconds', help: 'Recovery time objective of the tenant tier', labelNames: ['tenant', 'tier'], registers });
    this.rpo = new Gauge({ name: 'drproxy_rpo_seconds', help: 'Recovery point objective of the tenant tier', labelNames: ['tenant', 'tier'], registers });
    this.failovers = new Counter({ name: 'drproxy_failovers_total', help: 'Failovers by trigger and result (routed, stayed or frozen)', labelNames: ['tenant', 'trigger', 'result'], registers });
    this.activeSite = new Gauge({
      name: 'drproxy_active_site',
      help: '1 for the site that takes the tenant traffic, 0 for the others',
      labelNames: ['tenant', 'site'],
      registers,
      // Registered before the other state gauges: refresh them all from the control plane here.
      collect() {
        self.refresher?.();
      },
    });
    this.epoch = new Gauge({ name: 'drproxy_epoch', help: 'Fencing epoch of the tenant', labelNames: ['tenant'], registers });
    this.backendUp = new Gauge({ name: 'drproxy_backend_up', help: '1 when the backend may take traffic (healthy, not ejected, not drained)', labelNames: ['tenant', 'site', 'backend'], registers });
    this.healthChecks = new Counter({
      name: 'drproxy_health_checks_total',
      help: 'Active health checks by result',
      labelNames: ['tenant', 'site', 'result'],
      registers,
      collect() {
        // Registered before drproxy_health_check_duration_seconds: fold the checks' tallies here.
        if (self.checkSource) for (const s of self.checkSource()) self.siteChecks(s.tenant, s.site).fold(s.tallies);
        for (const t of self.traffic.values()) {
          for (const [site, c] of t.checks) {
            self.addDelta(this, `h|${t.tenant}|${site}|ok`, c.ok, { tenant: t.tenant, site, result: 'ok' });
            self.addDelta(this, `h|${t.tenant}|${site}|fail`, c.fail, { tenant: t.tenant, site, result: 'fail' });
            if (c.inconclusive > 0) self.addDelta(this, `h|${t.tenant}|${site}|inconclusive`, c.inconclusive, { tenant: t.tenant, site, result: 'inconclusive' });
          }
        }
      },
    });
    this.healthCheckDuration = new RequestLatencyMetric('drproxy_health_check_duration_seconds', 'Active health check duration', HEALTH_BUCKETS, () => this.checkSeries(), this.registry);
    this.requests = new Counter({
      name: 'drproxy_requests_total',
      help: 'Proxied requests by status class of the answer sent to the client',
      labelNames: ['tenant', 'code'],
      registers,
      collect() {
        for (const t of self.traffic.values()) {
          for (let i = 0; i < 5; i++) self.addDelta(this, `r|${t.tenant}|${i}`, t.byClass[i]!, { tenant: t.tenant, code: CLASSES[i]! });
        }
      },
    });
    this.requestDuration = new RequestLatencyMetric('drproxy_request_duration_seconds', 'Time from request to the end of the answer', REQUEST_BUCKETS, () => this.requestSeries(), this.registry);
    this.retries = new Counter({
      name: 'drproxy_upstream_retries_total',
      help: 'Upstream attempts sent again after a failure, by failure kind',
      labelNames: ['tenant', 'kind'],
      registers,
      collect() {
        for (const t of self.traffic.values()) {
          for (const [kind, n] of t.retries) self.addDelta(this, `x|${t.tenant}|${kind}`, n, { tenant: t.tenant, kind });
        }
      },
    });
    this.held = new Gauge({
      name: 'drproxy_requests_held',
      help: 'Requests held right now (tenant flipping, or waiting for a flip)',
      labelNames: ['tenant'],
      registers,
      collect() {
        for (const t of self.traffic.values()) this.set({ tenant: t.tenant }, t.held);
      },
    });
    this.drainInflight = new Gauge({ name: 'drproxy_drain_inflight', help: 'Requests in flight on a site when its drain started', labelNames: ['tenant', 'site'], registers });
    this.dataAge = new Gauge({ name: 'drproxy_site_data_age_seconds', help: 'Data age reported by the site health answer (RPO gate)', labelNames: ['tenant', 'site'], registers });
    this.ejections = new Counter({ name: 'drproxy_backend_ejections_total', help: 'Backends ejected by passive health, by the failure that tripped it (connect, reset, timeout, status, slow, protocol)', labelNames: ['tenant', 'site', 'kind'], registers });
    this.slowUnconfirmed = new Counter({
      name: 'drproxy_slow_unconfirmed_total',
      help: 'Streaks of slow answers (passive_health.slow_after) that a probe did not confirm: the backend answered its probe and nothing was ejected (long polls, slow reports)',
      labelNames: ['tenant', 'site'],
      registers,
    });
    this.adminRequests = new Counter({ name: 'drproxy_admin_requests_total', help: 'Admin API mutations by action and result', labelNames: ['action', 'result'], registers });
    // Counted by the data plane in plain numbers (one increment per connection), read here.
    this.connectionsOpen = new Gauge({
      name: 'drproxy_connections_open',
      help: 'Client connections open on the data-plane listener',
      registers,
      collect() {
        if (self.connections) this.set(self.connections.open);
      },
    });
    this.connectionsLimit = new Gauge({
      name: 'drproxy_connections_limit',
      help: 'Client connections the data plane accepts at once: server.max_connections, or less when the open-file limit after server.fd_reserve is lower',
      registers,
      collect() {
        if (self.connections) this.set(self.connections.cap);
      },
    });
    this.connectionsRefused = new Counter({
      name: 'drproxy_connections_refused_total',
      help: 'Client connections answered 503 and closed at accept, by reason (max_connections, fd_limit, max_connections_per_client), and accept errors (accept_error: EMFILE, ENFILE)',
      labelNames: ['reason'],
      registers,
      collect() {
        const c = self.connections;
        if (!c) return;
        this.reset();
        for (const [reason, n] of Object.entries(c.refused)) this.inc({ reason }, n);
      },
    });
    // The admin listener's own guard: apart, so that a refused scrape is never read as data-plane load.
    this.adminConnectionsOpen = new Gauge({
      name: 'drproxy_admin_connections_open',
      help: 'Client connections open on the admin listener',
      registers,
      collect() {
        if (self.adminConnections) this.set(self.adminConnections.open);
      },
    });
    this.adminConnectionsRefused = new Counter({
      name: 'drproxy_admin_connections_refused_total',
      help: 'Admin client connections answered 503 and closed at accept, by reason (max_connections, max_connections_per_client), and accept errors (accept_error)',
      labelNames: ['reason'],
      registers,
      collect() {
        const c = self.adminConnections;
        if (!c) return;
        this.reset();
        for (const [reason, n] of Object.entries(c.refused)) if (reason !== 'fd_limit') this.inc({ reason }, n);
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  private addDelta(counter: Counter<string>, key: string, total: number, labels: Record<string, string>): void {
    const before = this.seen.get(key) ?? 0;
    if (total > before) counter.inc(labels, total - before);
    else if (before === 0) counter.inc(labels, 0);
    this.seen.set(key, total);
  }

  /** Where the data plane's connection counts come from (its ConnectionGuard). */
  setConnectionSource(counts: ConnectionCounts): void {
    this.connections = counts;
  }

  /** Where the admin listener's connection counts come from (its ConnectionGuard). */
  setAdminConnectionSource(counts: ConnectionCounts): void {
    this.adminConnections = counts;
  }

  /** Called at each scrape, before the state gauges are read. */
  setRefresher(fn: () => void): void {
    this.refresher = fn;
  }

  /** The hot-path accounting object of a tenant (created once, kept across reloads). */
  trafficOf(tenant: string): TenantTraffic {
    let t = this.traffic.get(tenant);
    if (!t) this.traffic.set(tenant, (t = new TenantTraffic(tenant, this.requestDuration.counts())));
    return t;
  }

  /** Where the health-check series come from: every tenant site with its checks' tallies. */
  setCheckSource(fn: () => Iterable<SiteTallies>): void {
    this.checkSource = fn;
  }

  private siteChecks(tenant: string, site: string): SiteChecks {
    const t = this.trafficOf(tenant);
    let c = t.checks.get(site);
    if (!c) t.checks.set(site, (c = new SiteChecks(this.healthCheckDuration.counts())));
    return c;
  }

  private *requestSeries(): Iterable<LatencySeries> {
    for (const t of this.traffic.values()) yield { labels: { tenant: t.tenant }, latency: t.latency };
  }

  private *checkSeries(): Iterable<LatencySeries> {
    for (const t of this.traffic.values()) for (const [site, c] of t.checks) yield { labels: { tenant: t.tenant, site }, latency: c.duration };
  }

  /** Static per-tenant series: tier objectives. */
  describeTenant(t: TenantConfig): void {
    this.rto.set({ tenant: t.name, tier: t.tier.name }, t.tier.rto / 1000);
    this.rpo.set({ tenant: t.name, tier: t.tier.name }, t.tier.rpo / 1000);
    this.trafficOf(t.name);
  }

  state(t: TenantConfig, s: TenantState): void {
    this.epoch.set({ tenant: t.name }, s.epoch);
    const routed = s.phase !== 'frozen';
    for (const site of t.sites) this.activeSite.set({ tenant: t.name, site: site.name }, routed && site.name === s.active ? 1 : 0);
  }

  flip(r: FlipRecord, tier: { rto: number }): void {
    this.failovers.inc({ tenant: r.tenant, trigger: r.trigger, result: r.result });
    if (r.drain) this.drainInflight.set({ tenant: r.tenant, site: r.from }, r.drain.inflight);
    if (r.result !== 'routed') return;
    const seconds = r.durationMs / 1000;
    this.failoverDuration.observe({ tenant: r.tenant, tier: r.tier, trigger: r.trigger, from_site: r.from, to_site: r.to }, seconds);
    this.failoverRtoRatio.set({ tenant: r.tenant, tier: r.tier }, r.durationMs / tier.rto);
  }

  /** Forget every series of a tenant removed by a reload. */
  removeTenant(t: TenantConfig): void {
    const name = t.name;
    for (const m of [this.failoverDuration, this.failoverRtoRatio, this.rto, this.rpo, this.failovers, this.activeSite, this.epoch, this.backendUp, this.healthChecks, this.requests, this.retries, this.held, this.drainInflight, this.dataAge, this.ejections, this.slowUnconfirmed] as Array<{ remove(l: Record<string, string>): void; get(): Promise<{ values: Array<{ labels: Record<string, string | number> }> }> }>) {
      void m.get().then((v) => {
        for (const { labels } of v.values) if (labels.tenant === name) m.remove(stringLabels(labels));
      });
    }
    // The tenant's latency and health-check duration series go with its TenantTraffic.
    this.traffic.delete(name);
    for (const k of [...this.seen.keys()]) if (k.split('|')[1] === name) this.seen.delete(k);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

}

function stringLabels(labels: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (k !== 'le') out[k] = String(v);
  return out;
}
