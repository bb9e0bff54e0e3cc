/**
 * The drill's view of the tenant's real traffic (the data plane's per-tenant counts,
 * metrics/traffic.ts: responses by status class and the latency histogram), and the dwell's
 * guard: sampled every 250 ms, it aborts the drill when the error rate goes over
 * drills.guard.max_error_rate (over at least min_requests), the p99 over max_p99, or the
 * target becomes unavailable.
 */
import type { DrillGuardConfig } from '../config/types.js';
import { REQUEST_BUCKETS } from '../metrics/index.js';
import type { DrillTenant } from './deps.js';
import type { DrillReason } from './types.js';
import type { SyntheticCount } from './verifier.js';

/** What the data plane counts for a tenant (TenantTraffic). */
interface Counted {
  byClass: Float64Array;
  latency: { counts: Float64Array };
}

function counted(t: DrillTenant): Counted | undefined {
  const o = t.slot.observer as Partial<Counted> | undefined;
  return o?.byClass instanceof Float64Array && o.latency?.counts instanceof Float64Array ? (o as Counted) : undefined;
}

export interface TrafficFigures {
  requests: number;
  /** 5xx answers. */
  errors: number;
  error_rate: number;
  p99_ms?: number;
}

/** The p99 of a histogram's counts (not cumulative), as its bucket's upper bound, ms. */
export function p99Of(counts: ArrayLike<number>): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0 || counts.length !== REQUEST_BUCKETS.length + 1) return undefined;
  const rank = Math.ceil(total * 0.99);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return (REQUEST_BUCKETS[i] ?? REQUEST_BUCKETS[REQUEST_BUCKETS.length - 1]! * 2) * 1000;
  }
  return undefined;
}

/** The tenant's traffic from now on: counts taken now, differences read later. */
export class TrafficWindow {
  private readonly byClass: Float64Array;
  private readonly latency: Float64Array;
  private readonly syntheticAtStart: { requests: number; errors: number };

  constructor(
    private readonly tenant: DrillTenant,
    private readonly synthetic: SyntheticCount,
  ) {
    const c = counted(tenant);
    this.byClass = Float64Array.from(c?.byClass ?? new Float64Array(5));
    this.latency = Float64Array.from(c?.latency.counts ?? []);
    this.syntheticAtStart = { requests: synthetic.requests, errors: synthetic.byClass[4]! };
  }

  /** p99 of everything the tenant answered before this window (since it was loaded), ms. */
  p99Before(): number | undefined {
    return p99Of(this.latency);
  }

  /** The tenant's real requests since the window opened (the drill's synthetic ones left out). */
  figures(): TrafficFigures {
    const c = counted(this.tenant);
    if (!c) return { requests: 0, errors: 0, error_rate: 0 };
    let total = 0;
    for (let i = 0; i < 5; i++) total += c.byClass[i]! - this.byClass[i]!;
    const requests = Math.max(0, total - (this.synthetic.requests - this.syntheticAtStart.requests));
    const errors = Math.max(0, c.byClass[4]! - this.byClass[4]! - (this.synthetic.byClass[4]! - this.syntheticAtStart.errors));
    const lat = c.latency.counts.length === this.latency.length ? c.latency.counts.map((n, i) => n - this.latency[i]!) : undefined;
    const p99 = lat && p99Of(lat);
    return { requests, errors, error_rate: requests > 0 ? errors / requests : 0, ...(p99 !== undefined && { p99_ms: p99 }) };
  }
}

export interface DwellResult {
  /** Why the guard aborted the dwell; undefined: it ran its full length. */
  abort?: DrillReason;
  figures: TrafficFigures;
  samples: number;
  /** The dwell ended early because the service stopped. */
  stopped?: boolean;
}

/** What trips the guard now, if anything. */
export function tripped(f: TrafficFigures, g: DrillGuardConfig, tenant: DrillTenant, target: string, now: number): DrillReason | undefined {
  const site = tenant.site(target);
  if (site && !site.health(now).available) {
    const h = site.health(now);
    return { code: 'target_unavailable', message: `target ${target} became unavailable during the dwell (${h.up} of ${h.total} backends healthy, ${h.need} needed)`, site: target };
  }
  if (tenant.state.active !== target) return { code: 'moved', message: `the tenant left ${target} during the dwell (now on ${tenant.state.active}, ${tenant.state.phase})`, site: target };
  if (f.requests >= g.min_requests && f.error_rate > g.max_error_rate) {
    return { code: 'error_rate', message: `error rate ${(f.error_rate * 100).toFixed(1)}% over ${f.requests} requests is above drills.guard.max_error_rate (${g.max_error_rate * 100}%)` };
  }
  if (g.max_p99 !== undefined && f.p99_ms !== undefined && f.requests >= g.min_requests && f.p99_ms > g.max_p99) {
    return { code: 'latency', message: `p99 latency ${f.p99_ms} ms is above drills.guard.max_p99 (${g.max_p99} ms)` };
  }
  return undefined;
}

export const GUARD_SAMPLE_MS = 250;

/** Stay on the target for `ms`, sampling the guard; resolves early when it trips or `signal` aborts. */
export async function dwell(o: { ms: number; tenant: DrillTenant; target: string; guard: DrillGuardConfig; window: TrafficWindow; now: () => number; signal: AbortSignal }): Promise<DwellResult> {
  const end = o.now() + o.ms;
  let samples = 0;
  for (;;) {
    const f = o.window.figures();
    samples++;
    const abort = tripped(f, o.guard, o.tenant, o.target, o.now());
    if (abort) return { abort, figures: f, samples };
    if (o.signal.aborted) return { figures: f, samples, stopped: true };
    const left = end - o.now();
    if (left <= 0) return { figures: f, samples };
    await sleep(Math.min(GUARD_SAMPLE_MS, left), o.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const t = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
