/**
 * Per-tenant request accounting across worker threads. In a worker, each tenant slot's observer
 * is a TenantTraffic of the worker's own (plain increments on the hot path, as inline); at each
 * scrape the worker sends its counts as plain data and the main thread adds what grew since that
 * worker's last answer to the tenant's main-thread TenantTraffic, which /metrics renders as
 * today (drproxy_requests_total, drproxy_request_duration_seconds, retries, held). Counters never
 * go down: a worker that exits keeps what it gave; `held` (a gauge) is the live workers' sum.
 * Between scrapes each worker also sends, every TRAFFIC_REPORT_MS, the counts of the tenants
 * whose traffic moved: what reads the main thread's TenantTraffic outside a scrape (a drill's
 * guard, which aborts on the tenant's error rate or p99, and its report) sees it as inline,
 * at most that much late.
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
  /**
   * The worker's serial of the read: a scrape's answer is folded only once every worker
   * answered, so a report read later may have been folded first; the older record is skipped.
   */
  readonly seq: number;
}

const BOUNDS = Float64Array.from(REQUEST_BUCKETS);

/** How often a worker reports the tenants whose traffic moved (no message while none did). */
export const TRAFFIC_REPORT_MS = 250;

/** Worker side: one TenantTraffic per tenant (the slot's observer). */
export class WorkerTraffic {
  private readonly tenants = new Map<string, TenantTraffic>();
  private seq = 0;

  of(tenant: string): TenantTraffic {
    let t = this.tenants.get(tenant);
    if (t === undefined) this.tenants.set(tenant, (t = new TenantTraffic(tenant, new LatencyCounts(BOUNDS))));
    return t;
  }

  counts(): Record<string, TrafficCounts> {
    const out: Record<string, TrafficCounts> = {};
    const seq = ++this.seq;
    for (const [name, t] of this.tenants) out[name] = countsOf(t, seq);
    return out;
  }

  /** What each tenant's traffic stood at when `moved` last looked. */
  private readonly marks = new Map<string, { count: number; held: number; answered: number; retried: number }>();

  /** The counts of the tenants whose traffic moved since the last call; undefined: none did. */
  moved(): Record<string, TrafficCounts> | undefined {
    let out: Record<string, TrafficCounts> | undefined;
    const seq = ++this.seq;
    for (const [name, t] of this.tenants) {
      let answered = 0;
      for (let i = 0; i < 5; i++) answered += t.byClass[i]!;
      let retried = 0;
      for (const n of t.retries.values()) retried += n;
      const m = this.marks.get(name);
      if (m !== undefined && m.count === t.own.count && m.held === t.held && m.answered === answered && m.retried === retried) continue;
      this.marks.set(name, { count: t.own.count, held: t.held, answered, retried });
      (out ??= {})[name] = countsOf(t, seq);
    }
    return out;
  }
}

function countsOf(t: TenantTraffic, seq: number): TrafficCounts {
  return { byClass: [...t.byClass], retries: [...t.retries], held: t.held, buckets: [...t.own.counts], sum: t.own.sum, count: t.own.count, seq };
}

/** Main side: what each worker last reported, and the deltas folded into the main TenantTraffic. */
export class TrafficFold {
  private readonly seen = new Map<string, Record<string, TrafficCounts>>();

  constructor(private readonly trafficOf: (tenant: string) => TenantTraffic | undefined) {}

  /**
   * Workers' counts (worker id → counts by tenant): a scrape's answers (every tenant), or one
   * worker's report (the tenants that moved). Each tenant's record replaces that worker's last.
   */
  fold(answers: ReadonlyMap<string, Record<string, TrafficCounts>>): void {
    const touched = new Set<string>();
    for (const [worker, counts] of answers) {
      let was = this.seen.get(worker);
      if (was === undefined) this.seen.set(worker, (was = {}));
      for (const [tenant, c] of Object.entries(counts)) {
        if (was[tenant] !== undefined && was[tenant].seq > c.seq) continue;
        const t = this.trafficOf(tenant);
        if (t !== undefined) add(t, c, was[tenant]);
        was[tenant] = c;
        touched.add(tenant);
      }
    }
    this.held(touched);
  }

  /** A worker exited: its counts stay added; only its record goes (and what it held). */
  forget(worker: string): void {
    const was = this.seen.get(worker);
    this.seen.delete(worker);
    if (was !== undefined) this.held(Object.keys(was));
  }

  /** `held` (a gauge): the live workers' sum. */
  private held(tenants: Iterable<string>): void {
    for (const tenant of tenants) {
      const t = this.trafficOf(tenant);
      if (t === undefined) continue;
      let n = 0;
      for (const was of this.seen.values()) n += was[tenant]?.held ?? 0;
      t.held = n;
    }
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
