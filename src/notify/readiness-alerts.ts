/**
 * `site_unready` (issue 20): a standby site that could no longer take a flip is told, and told
 * again as resolved when it can. Readiness (failover/readiness.ts) is a function of health, data
 * age and the hooks' last `check` answers, read on demand; nothing reports its changes, and the
 * data age grows with the clock alone. So one proxy-wide sweep reads every tenant's standby
 * readiness on a timer (the control plane's, never a request's path) and runs a small
 * hysteresis per site:
 *
 * - watched: every site but the active one, and not fenced (a fenced site is out of the flip
 *   candidates on purpose; the flip or the operator that fenced it is told elsewhere);
 * - `site_unready` (warning, `dedup_key: unready:<tenant>:<site>`) once the site has been
 *   watched and not ready at every sweep for `failover.unready_alert_after`, counted from the
 *   first sweep that saw it so: a site never seen ready (start-up, first probes not in yet) is
 *   told only if it stays unready that long, never at the first evaluation;
 * - resolved (same dedup_key) once it has been ready, or no longer watched, for the same time:
 *   a site flapping faster than that is one open condition, not a storm (the notifier coalesces
 *   the rest);
 * - clustered: every replica keeps the hysteresis, only the replica that decides (the leader)
 *   emits, so that N replicas do not page N times. A new leader does not repeat what the old one
 *   told; its resolve closes the same dedup_key.
 */
import type { TenantController } from '../failover/tenant-controller.js';
import type { DrillReason } from '../drill/types.js';
import type { Notifier } from './events.js';

/** The sweep runs every half of the shortest `unready_alert_after`, within these bounds. */
const MIN_SWEEP_MS = 100;
const MAX_SWEEP_MS = 5_000;

interface SiteWatch {
  /** The condition as last told (true: site_unready sent, not resolved yet). */
  told: boolean;
  /** Since when the sweeps have seen the opposite of `told`, unbroken; 0: they have not. */
  since: number;
  reasons: DrillReason[];
}

export interface ReadinessAlertsDeps {
  tenants: () => Iterable<TenantController>;
  notifier: () => Notifier;
  /** This replica may decide (embedded: always; clustered: the leader). */
  mayDecide: () => boolean;
  now: () => number;
}

export class ReadinessAlerts {
  private readonly sites = new Map<string, SiteWatch>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly d: ReadinessAlertsDeps) {}

  start(): void {
    if (this.stopped) return;
    let shortest = MAX_SWEEP_MS * 2;
    for (const c of this.d.tenants()) if (c.config.failover.unready_alert_after > 0) shortest = Math.min(shortest, c.config.failover.unready_alert_after);
    const every = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, shortest / 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
      this.start();
    }, every);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One look at every tenant's standby sites (exported for tests that drive the clock). */
  sweep(now = this.d.now()): void {
    const seen = new Set<string>();
    for (const c of this.d.tenants()) {
      const after = c.config.failover.unready_alert_after;
      const s = c.state;
      // Off (0s), or mid-flip (a flip calls the hooks and fences for real): keep what was known.
      if (after <= 0 || s === undefined || s.phase === 'failing_over') {
        for (const site of c.sites) seen.add(`${c.name}\u0000${site.name}`);
        continue;
      }
      for (const r of c.readinessAll(now)) {
        const key = `${c.name}\u0000${r.site}`;
        seen.add(key);
        const watched = r.site !== s.active && !s.fenced.includes(r.site);
        this.step(c, key, r.site, watched && !r.ready, r.reasons, after, now);
      }
    }
    // Tenants or sites a reload removed: forgotten (an open condition is resolved first).
    for (const [key, w] of this.sites) if (!seen.has(key)) this.forget(key, w, now);
  }

  private step(c: TenantController, key: string, site: string, unready: boolean, reasons: DrillReason[], after: number, now: number): void {
    let w = this.sites.get(key);
    if (w === undefined) this.sites.set(key, (w = { told: false, since: 0, reasons: [] }));
    if (unready) w.reasons = reasons;
    if (unready === w.told) {
      w.since = 0;
      return;
    }
    if (w.since === 0) w.since = now;
    if (now - w.since < after) return;
    w.told = unready;
    w.since = 0;
    if (this.d.mayDecide()) this.emit(c.name, c.config.tier.name, site, unready, w.reasons, after, now);
  }

  private forget(key: string, w: SiteWatch, now: number): void {
    this.sites.delete(key);
    if (!w.told || !this.d.mayDecide()) return;
    const [tenant, site] = key.split('\u0000') as [string, string];
    this.emit(tenant, undefined, site, false, [], 0, now);
  }

  private emit(tenant: string, tier: string | undefined, site: string, unready: boolean, reasons: DrillReason[], after: number, now: number): void {
    const why = reasons.map((r) => `${r.code}: ${r.message}`).join('; ');
    this.d.notifier().emit({
      kind: 'site_unready',
      at: now,
      severity: unready ? 'warning' : 'resolved',
      tenant,
      ...(tier !== undefined && { tier }),
      site,
      dedup_key: `unready:${tenant}:${site}`,
      summary: unready ? `${tenant}: standby site ${site} is not ready for a flip (${why})` : `${tenant}: site ${site} is ready for a flip again, or no longer a standby`,
      details: unready ? { reasons: reasons.map(({ code, message }) => ({ code, message })), for_ms: after } : { for_ms: after },
    });
  }
}
