/**
 * A flip's drain counts under server.workers: each worker drains its own calls to the old site
 * and its `drained` acknowledgement carries its DrainResult; the flip's record (and its
 * `drained …` log line, /tenants/:t flips, the audit file) shows their sum, as inline it shows
 * the one data plane's. durationMs is the longest worker's: the drains run side by side.
 */
import type { DrainResult } from '../failover/drain.js';

interface Pending {
  readonly epoch: number;
  readonly sum: DrainResult;
}

export class DrainSums {
  private readonly byTenant = new Map<string, Pending>();

  /** The workers were asked to drain `epoch` of the tenant: a fresh sum (the last flip's is dropped). */
  begin(tenant: string, epoch: number): void {
    this.byTenant.set(tenant, { epoch, sum: { inflight: 0, redispatched: 0, finished: 0, cut: 0, upgrades: 0, durationMs: 0 } });
  }

  /** One worker's drained acknowledgement; one for another epoch (an earlier flip) is ignored. */
  add(tenant: string, epoch: number, r: DrainResult): void {
    const p = this.byTenant.get(tenant);
    if (p === undefined || p.epoch !== epoch) return;
    const s = p.sum;
    s.inflight += r.inflight;
    s.redispatched += r.redispatched;
    s.finished += r.finished;
    s.cut += r.cut;
    s.upgrades += r.upgrades;
    s.durationMs = Math.max(s.durationMs, r.durationMs);
  }

  /** The sum for `epoch` (complete once every live worker acknowledged), or undefined if no drain was asked. */
  of(tenant: string, epoch: number): DrainResult | undefined {
    const p = this.byTenant.get(tenant);
    return p?.epoch === epoch ? p.sum : undefined;
  }

  /** A tenant left the config. */
  forget(tenant: string): void {
    this.byTenant.delete(tenant);
  }
}

/** A worker's drain counts as they crossed the thread boundary, or undefined if they are not. */
export function drainCounts(v: unknown): DrainResult | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  for (const k of ['inflight', 'redispatched', 'finished', 'cut', 'upgrades', 'durationMs']) if (typeof r[k] !== 'number') return undefined;
  return v as DrainResult;
}
