/**
 * The data plane's per-tenant accounting (plain numbers, counted on the hot path) and the
 * health checks' tallies as folded per tenant site at scrape time.
 *
 * prom-client hashes and validates a label object on every inc() (about 200 ns, measured in
 * bench/), so requests, retries and latency are plain numbers here and are read at scrape.
 * A tenant whose detail is `tenant` writes its latency into the fleet-wide histogram and its
 * retries and checks are folded into fleet-wide sums: only deltas move, so every fleet total
 * stays exact when a tenant's detail changes on reload.
 */
import type { CheckTally } from '../health/active-check.js';
import type { LatencyCounts } from '../request-latency.js';

/** Counts of check results and their durations: one tenant site's series, or the fleet's. */
export interface CheckSink {
  ok: number;
  fail: number;
  inconclusive: number;
  readonly duration: LatencyCounts;
}

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
 * Active health checks of one site of a tenant: at each scrape, what each of the site's checks
 * counted since the last scrape is added to the sink (a check that leaves the site at a reload
 * keeps what it already gave, so the series never go down).
 */
export class SiteChecks implements CheckSink {
  ok = 0;
  fail = 0;
  inconclusive = 0;
  /** This site's own series (site detail and above), or the fleet's. */
  sink: CheckSink = this;
  private seen = new Map<CheckTally, TallySeen>();
  constructor(readonly duration: LatencyCounts) {}

  fold(tallies: readonly CheckTally[]): void {
    const next = new Map<CheckTally, TallySeen>();
    const sink = this.sink;
    const dur = sink.duration;
    for (const t of tallies) {
      if (next.has(t)) continue; // one check listed twice in a site counts once
      const d = t.durations;
      const was = this.seen.get(t) ?? { ok: 0, fail: 0, inconclusive: 0, counts: new Float64Array(dur.counts.length), sum: 0, count: 0 };
      sink.ok += t.ok - was.ok;
      sink.fail += t.fail - was.fail;
      sink.inconclusive += t.inconclusive - was.inconclusive;
      const now: TallySeen = { ok: t.ok, fail: t.fail, inconclusive: t.inconclusive, counts: was.counts, sum: was.sum, count: was.count };
      if (d && d.counts.length === now.counts.length) {
        for (let i = 0; i < d.counts.length; i++) {
          dur.counts[i]! += d.counts[i]! - now.counts[i]!;
          now.counts[i] = d.counts[i]!;
        }
        dur.sum += d.sum - now.sum;
        dur.count += d.count - now.count;
        now.sum = d.sum;
        now.count = d.count;
      }
      next.set(t, now);
    }
    this.seen = next;
  }
}

/** Per-tenant request accounting on the hot path: plain increments. */
export class TenantTraffic {
  /** Responses by status class (index = status / 100 - 1). */
  readonly byClass = new Float64Array(5);
  /** Retries by failure kind since the tenant was loaded (hot path). */
  readonly retries = new Map<string, number>();
  /** What the scrape last took from `retries`, and the tenant's own series (site detail and above). */
  readonly retriesSeen = new Map<string, number>();
  readonly retriesShown = new Map<string, number>();
  held = 0;
  /** Health checks by site (drproxy_health_checks_total, drproxy_health_check_duration_seconds). */
  readonly checks = new Map<string, SiteChecks>();
  /** Where requests are observed: `own`, or the fleet-wide histogram at tenant detail. */
  latency: LatencyCounts;
  /** Folded into the fleet-wide series (tenant detail). */
  folded = false;

  constructor(
    readonly tenant: string,
    /** drproxy_request_duration_seconds{tenant} of this tenant. */
    readonly own: LatencyCounts,
  ) {
    this.latency = own;
  }

  done(status: number, seconds: number): void {
    const i = ((status / 100) | 0) - 1;
    if (i >= 0 && i < 5) this.byClass[i]!++;
    this.latency.observe(seconds);
  }

  retry(kind: string): void {
    this.retries.set(kind, (this.retries.get(kind) ?? 0) + 1);
  }

  /** Moves what was retried since the last scrape into `sink` (the tenant's or the fleet's). */
  foldRetries(sink: Map<string, number>): void {
    for (const [kind, n] of this.retries) {
      const d = n - (this.retriesSeen.get(kind) ?? 0);
      if (d === 0 && sink.has(kind)) continue;
      this.retriesSeen.set(kind, n);
      sink.set(kind, (sink.get(kind) ?? 0) + d);
    }
  }
}
