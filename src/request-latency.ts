/**
 * drproxy_request_duration_seconds (and drproxy_health_check_duration_seconds): latency
 * histograms counted in a plain array per series and exposed through prom-client's registry
 * (which formats them).
 *
 * Why not prom-client's Histogram here: its `observe()` builds a label object, validates it,
 * hashes it to a new string, looks the series up in a dictionary by that string and then
 * finds the bucket by converting the bound to a property name — about 2.4 µs per request in
 * `bench/profile.js` (2–3 % of a proxied request's whole CPU), the largest single drproxy
 * cost on the hot path. Here a request costs one short scan of the bounds and three
 * additions. prom-client still owns the exposition (text and OpenMetrics), the registry and
 * the content types: this object only answers the registry's `get()` with the same shape a
 * prom-client Histogram returns (cumulative `_bucket` series with `le`, `+Inf`, `_sum`,
 * `_count`). Health-check durations are counted the same way: a shared probe's result reaches
 * every tenant that lists the backend (at 1,000 tenants, ~100 each), and prom-client's observe()
 * and inc() were most of drproxy's idle CPU there. The failover histogram is prom-client's own.
 */
import type { Registry } from 'prom-client';

/** The request latency of one tenant. Lives as long as the tenant (kept across reloads). */
export class LatencyCounts {
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    // Most requests land in the first few buckets: a forward scan beats a binary search.
    while (i < n && seconds > b[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** One series of the histogram: its labels (without `le`) and its counts. */
export interface LatencySeries {
  labels: Record<string, string>;
  latency: LatencyCounts;
}

/** The registry's view of a set of LatencyCounts, as one histogram metric. */
export class RequestLatencyMetric {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly les: string[];

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    /** The series, read at each scrape. */
    private readonly series: () => Iterable<LatencySeries>,
    registry: Registry,
  ) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    }
    this.bounds = Float64Array.from(buckets);
    this.les = buckets.map(String);
    registry.registerMetric(this as never);
  }

  /** Counts for a new tenant, with this metric's buckets. */
  counts(): LatencyCounts {
    return new LatencyCounts(this.bounds);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, latency } of this.series()) {
      let acc = 0;
      for (let i = 0; i < this.les.length; i++) {
        acc += latency.counts[i]!;
        values.push({ labels: { le: this.les[i]!, ...labels }, value: acc, metricName: bucketName });
      }
      values.push({ labels: { le: '+Inf', ...labels }, value: latency.count, metricName: bucketName });
      values.push({ labels, value: latency.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: latency.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Series disappear with their tenant (see Metrics.removeTenant); nothing to reset here. */
  reset(): void {}
}
