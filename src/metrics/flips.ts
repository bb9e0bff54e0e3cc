/**
 * Failover accounting per tenant, in plain numbers read at scrape: drproxy_failovers_total,
 * the RTO ratio of the last routed flip and the worst one within `metrics.rto_window`, and the
 * in-flight count of the last drain of each site.
 */
import type { FlipTrigger } from '../failover/flip.js';

export const TRIGGERS: readonly FlipTrigger[] = ['health', 'admin', 'failback', 'recovery', 'drill', 'config'];
/** The triggers drproxy fires by itself: initialised at 0 at every detail level. */
export const AUTOMATIC_TRIGGERS: readonly FlipTrigger[] = ['health'];

export class TenantFlips {
  /** drproxy_failovers_total by `trigger|result`. */
  readonly counts = new Map<string, number>();
  /** The last routed flip's duration / RTO, and its tier (drproxy_failover_rto_ratio). */
  last: { tier: string; ratio: number } | undefined;
  /** drproxy_drain_inflight by site. */
  readonly drainInflight = new Map<string, number>();
  /**
   * Routed flips that may still be the worst of the window: end times increasing, ratios
   * strictly decreasing (a flip with a ratio at or below a later one's can never be the worst
   * again, since the later one leaves the window after it). Small whatever the flip rate.
   */
  private window: Array<{ at: number; ratio: number }> = [];

  /** Series at 0 for `triggers` × routed, so that increase() sees the first flip. */
  init(triggers: readonly string[]): void {
    for (const t of triggers) if (!this.counts.has(`${t}|routed`)) this.counts.set(`${t}|routed`, 0);
  }

  count(trigger: string, result: string): void {
    const k = `${trigger}|${result}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  /** A routed flip that ended at `at` (ms since the epoch). */
  routed(at: number, tier: string, ratio: number, windowMs: number): void {
    this.last = { tier, ratio };
    const w = this.window;
    const end = Math.max(at, w.length > 0 ? w[w.length - 1]!.at : at);
    while (w.length > 0 && w[w.length - 1]!.ratio <= ratio) w.pop();
    w.push({ at: end, ratio });
    this.prune(end, windowMs);
  }

  /** The worst ratio among routed flips that ended within `windowMs` before `now`; 0 when none. */
  worst(now: number, windowMs: number): number {
    this.prune(now, windowMs);
    return this.window[0]?.ratio ?? 0;
  }

  private prune(now: number, windowMs: number): void {
    let i = 0;
    while (i < this.window.length && this.window[i]!.at < now - windowMs) i++;
    if (i > 0) this.window = this.window.slice(i);
  }
}
