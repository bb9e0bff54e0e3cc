/**
 * Per-tenant request accounting across worker threads. In a worker, each tenant slot's observer
 * is a TenantTraffic of the worker's own (plain increments on the hot path, as inline); at each
 * scrape the worker sends its counts as plain data and the main thread adds what grew since that
 * worker's last answer to the tenant's main-thread TenantTraffic, which /metrics renders as
 * today (drproxy_requests_total, drproxy_request_duration_seconds, retries, held). Counters never
 * go down: a worker that exits keeps what it gave; `held` (a gauge) is the live workers' sum.
 */
import { REQUEST_BUCKETS } from '../metrics/index.js';
import { TenantTraffic } from '../metrics/traffic.js';
import { LatencyCounts } from '../request-latency.js';

/** One tenant's counts in one worker, as they cross. */
export interface TrafficCounts {
  readonly byClass: number[];
  readonly retries: Array<[string, number]>;
  readonly held: number;
  readonly buckets: number[];
  readonly sum: number;
  readonly count: number;
}

const BOUNDS = Float64Array.from(REQUEST_BUCKETS);

/** Worker side: one TenantTraffic per tenant (the slot's observer). */
export class WorkerTraffic {
  private readonly tenants = new Map<string, TenantTraffic>();

  of(tenant: string): TenantTraffic {
    let t = this.tenants.get(tenant);
    if (t === undefined) this.tenants.set(tenant, (t = new TenantTraffic(tenant, new LatencyCounts(BOUNDS))));
    return t;
  }

  counts(): Record<string, TrafficCounts> {
    const out: Record<string, TrafficCounts> = {};
    for (const [name, t] of this.tenants) {
      out[name] = { byClass: [...t.byClass], retries: [...t.retries], held: t.held, buckets: [...t.own.counts], sum: t.own.sum, count: t.own.count };
    }
    return out;
  }
}

/** Main side: what each worker last reported, and the deltas folded into the main TenantTraffic. */
export class TrafficFold {
  private readonly seen = new Map<string, Record<string, TrafficCounts>>();

  constructor(private readonly trafficOf: (tenant: string) => TenantTraffic | undefined) {}

  /** One scrape's answers (worker id → counts) from the live workers. */
  fold(answers: ReadonlyMap<string, Record<string, TrafficCounts>>): void {
    const held = new Map<string, number>();
    for (const [worker, counts] of answers) {
      const was = this.seen.get(worker) ?? {};
      for (const [tenant, c] of Object.entries(counts)) {
        held.set(tenant, (held.get(tenant) ?? 0) + c.held);
        const t = this.trafficOf(tenant);
        if (t !== undefined) add(t, c, was[tenant]);
      }
      this.seen.set(worker, counts);
    }
    for (const [tenant, n] of held) {
      const t = this.trafficOf(tenant);
      if (t !== undefined) t.held = n;
    }
  }

  /** A worker exited: its counts stay added; only its record goes. */
  forget(worker: string): void {
    this.seen.delete(worker);
  }
}

function add(t: TenantTraffic, c: TrafficCounts, was: TrafficCounts | undefined): void {
  for (let i = 0; i < 5; i++) t.byClass[i]! += c.byClass[i]! - (was?.byClass[i] ?? 0);
  const before = new Map(was?.retries ?? []);
  for (const [kind, n] of c.retries) t.retries.set(kind, (t.retries.get(kind) ?? 0) + n - (before.get(kind) ?? 0));
  const lat = t.latency;
  if (lat.counts.length === c.buckets.length) {
    for (let i = 0; i < c.buckets.length; i++) lat.counts[i]! += c.buckets[i]! - (was?.buckets[i] ?? 0);
  }
  lat.sum += c.sum - (was?.sum ?? 0);
  lat.count += c.count - (was?.count ?? 0);
}
