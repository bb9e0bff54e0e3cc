/**
 * Scheduled drills (docs/drills.md): runs `drills.schedules` with an injected clock and timers.
 * Each scheduled tenant has one next start (schedule.ts); one timer waits for the earliest, in
 * chunks below Node's timer maximum (~24.8 days). When a tenant is due, its drill is started
 * through the drill service (trigger `schedule`, actor `scheduler`), unless an alert is firing
 * for it or preflight refuses it: then a `skipped` report with the reasons is stored instead. A
 * skipped drill uses its slot: the next one is due as the schedule says, not at once.
 * At most drills.parallel scheduled drills run at once; due ones wait their turn, and one that
 * waited past its window is planned for the next window rather than started late.
 *
 * Only the replica that may decide (the leader, clustered) starts drills. A replica that is not
 * leading keeps no memory of the others' drills: when it becomes leader (and on a reload) it
 * reads each tenant's last scheduled drill from the store again.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Scheduler } from '../failover/scheduler.js';
import type { DrillReason, DrillReport, DrillRequest, DrillStore } from './types.js';
import { allowedAt, nextStart, scheduleOf } from './schedule.js';
import { lastScheduledStart } from './last-drills.js';

/** Longest single timer: well below setTimeout's 2^31-1 ms. */
export const MAX_TIMER_MS = 24 * 3_600_000;
/** While not leading, look again this often (the leader may go away). */
export const FOLLOWER_POLL_MS = 15_000;

/** What the scheduler needs of the drill service. */
export interface ScheduledDrillService {
  /** Why the drill would be refused now; empty: it may start. */
  preflight(req: DrillRequest): Promise<DrillReason[]>;
  /** Start it; resolves with the final report (rejects when it could not start). */
  run(req: DrillRequest): Promise<DrillReport>;
}

export interface DrillSchedulerDeps {
  config: () => Pick<Config, 'drills' | 'tenants'>;
  service: ScheduledDrillService;
  store: DrillStore;
  /** The alerts firing for a tenant (alerts-firing.ts); empty: none. */
  alerts: (tenant: string) => DrillReason[];
  /** The report of a drill skipped for `reasons` (skipped.ts); undefined: tenant gone. */
  skipped: (req: DrillRequest, reasons: DrillReason[]) => DrillReport | undefined;
  /** This replica may start drills (coordinator.mayDecide()). */
  leading: () => boolean;
  now: () => number;
  timers: Scheduler;
  random?: () => number;
  log: Logger;
  /** Every skipped report, once stored (metrics). */
  onSkipped?: (r: DrillReport) => void;
}

interface Due {
  at: number;
  index: number;
}

export class DrillScheduler {
  /** When each tenant's last scheduled drill started (run or skipped). */
  private readonly last = new Map<string, number>();
  private readonly next = new Map<string, Due>();
  private readonly running = new Set<string>();
  private handle: unknown;
  /** The store must be read again before the next start (start, reload, leadership regained). */
  private stale = true;
  private stopped = false;
  private notBefore = 0;
  private ticking: Promise<void> | undefined;

  constructor(private readonly d: DrillSchedulerDeps) {}

  /**
   * Start running the schedules (reads the store first, on the first tick). `settleMs`: no
   * drill starts before then (at start-up, health checks have not answered yet: every site
   * would look not ready and a due drill would be skipped for it).
   */
  start(settleMs = 0): void {
    this.notBefore = this.d.now() + settleMs;
    this.arm();
  }

  /** The config changed: every tenant's next start is computed from the new schedules. */
  reload(): void {
    this.stale = true;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  /** Each scheduled tenant's next start (epoch ms), for /status and tests. */
  upcoming(): Map<string, number> {
    return new Map([...this.next].map(([t, n]) => [t, n.at]));
  }

  /** The tenant's next scheduled start (epoch ms); undefined: none planned (or its drill runs). */
  nextOf(tenant: string): number | undefined {
    return this.next.get(tenant)?.at;
  }

  /** Resolves when the current tick (if any) is done: tests. */
  async settled(): Promise<void> {
    while (this.ticking) await this.ticking;
  }

  private clear(): void {
    if (this.handle !== undefined) this.d.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  /** One timer: at once when the store must be read, else at the earliest start (chunked). */
  private arm(): void {
    this.clear();
    if (this.stopped) return;
    const now = this.d.now();
    let wait = this.stale ? 0 : MAX_TIMER_MS;
    // drills.parallel running: the due ones wait for one to end (its end arms again).
    const full = this.running.size >= this.d.config().drills.parallel;
    for (const [tenant, n] of this.next) {
      if (this.running.has(tenant) || (full && n.at <= now)) continue;
      wait = Math.min(wait, Math.max(0, n.at - now));
    }
    if (!this.d.leading()) wait = Math.max(wait, FOLLOWER_POLL_MS);
    wait = Math.max(wait, this.notBefore - now);
    this.handle = this.d.timers.setTimeout(() => {
      this.handle = undefined;
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, wait);
  }

  private async tick(): Promise<void> {
    try {
      if (!this.d.leading()) {
        this.stale = true;
        return;
      }
      if (this.stale) await this.load();
      this.fireDue();
    } catch (err) {
      this.d.log.error({ err }, 'scheduled drills: could not read the last drills from the store; trying again in a minute');
      this.stale = true;
      this.clear();
      if (!this.stopped) this.handle = this.d.timers.setTimeout(() => void this.arm(), 60_000);
      return;
    } finally {
      if (this.handle === undefined) this.arm();
    }
  }

  /**
   * Start the drills that are due, earliest first, at most drills.parallel at once: a tier
   * schedule must not fail a whole fleet over at the same instant. One that waited for its turn
   * past its window's end (or into a freeze) is planned again instead.
   */
  private fireDue(): void {
    const now = this.d.now();
    const cfg = this.d.config();
    const due = [...this.next].filter(([t, n]) => n.at <= now && !this.running.has(t)).sort((x, y) => x[1].at - y[1].at);
    for (const [tenant, n] of due) {
      if (this.running.size >= cfg.drills.parallel) return;
      const s = cfg.drills.schedules[n.index];
      if (s && !allowedAt(s, now)) this.plan(tenant);
      else this.fire(tenant, n.index, now);
    }
  }

  /** Read each scheduled tenant's last scheduled drill, and compute every next start. */
  private async load(): Promise<void> {
    const cfg = this.d.config();
    const scheduled = cfg.tenants.filter((t) => scheduleOf(cfg.drills.schedules, t.name, t.tier.name));
    this.last.clear();
    for (const t of scheduled) {
      const at = await lastScheduledStart(this.d.store, t.name);
      if (at !== undefined) this.last.set(t.name, at);
    }
    this.stale = false;
    this.next.clear();
    for (const t of scheduled) this.plan(t.name);
  }

  /** Compute (or drop) the tenant's next start from its schedule and its last start. */
  private plan(tenant: string): void {
    const cfg = this.d.config();
    const t = cfg.tenants.find((x) => x.name === tenant);
    const s = t && scheduleOf(cfg.drills.schedules, t.name, t.tier.name);
    this.next.delete(tenant);
    if (!s) return;
    const at = nextStart(s.schedule, this.last.get(tenant), this.d.now(), this.d.random);
    if (at === undefined) this.d.log.warn({ tenant, schedule: s.index }, `scheduled drills: drills.schedules[${s.index}] has no start for ${tenant} within two years (blocked periods cover every window)`);
    else this.next.set(tenant, { at, index: s.index });
  }

  private fire(tenant: string, index: number, now: number): void {
    const cfg = this.d.config();
    const s = cfg.drills.schedules[index];
    if (!s) return;
    this.running.add(tenant);
    this.last.set(tenant, now);
    this.next.delete(tenant);
    const req: DrillRequest = {
      tenant,
      ...(s.to !== undefined && { to: s.to }),
      ...(s.dwell !== undefined && { dwell: s.dwell }),
      failback: true,
      reason: `scheduled drill (drills.schedules[${index}])`,
      actor: 'scheduler',
      trigger: 'schedule',
    };
    void this.attempt(req)
      .catch((err: unknown) => this.d.log.error({ err, tenant }, `scheduled drill of ${tenant} failed to run`))
      .finally(() => {
        this.running.delete(tenant);
        if (!this.stale) this.plan(tenant);
        this.arm();
      });
  }

  /** Skipped (alert firing, preflight refused, could not start) or run to its end. */
  private async attempt(req: DrillRequest): Promise<void> {
    const firing = this.d.alerts(req.tenant);
    const reasons = firing.length > 0 ? firing : await this.d.service.preflight(req);
    if (reasons.length > 0) return this.skip(req, reasons);
    this.d.log.info({ tenant: req.tenant, reason: req.reason }, `scheduled drill of ${req.tenant} starting`);
    let report: DrillReport;
    try {
      report = await this.d.service.run(req);
    } catch (err) {
      const e = err as { code?: string; message?: string; reasons?: DrillReason[]; id?: string };
      // Refused at start after a passing preflight (a race with an operator's flip): the service
      // stored a `refused` report with the reasons already; a second record would be a duplicate.
      if (typeof e.id === 'string' && Array.isArray(e.reasons)) {
        this.d.log.warn({ tenant: req.tenant, drill: e.id }, `scheduled drill of ${req.tenant} refused at start: ${e.message ?? ''}`);
        return;
      }
      return this.skip(req, [{ code: 'not_started', message: `the drill could not start: ${e.message ?? String(err)}` }]);
    }
    this.d.log.info({ tenant: req.tenant, drill: report.id, status: report.status }, `scheduled drill of ${req.tenant}: ${report.status}`);
  }

  private async skip(req: DrillRequest, reasons: DrillReason[]): Promise<void> {
    const report = this.d.skipped(req, reasons);
    if (!report) return;
    await this.d.store.put(report);
    this.d.log.warn({ tenant: req.tenant, drill: report.id, reasons: reasons.map((r) => r.code) }, `scheduled drill of ${req.tenant} skipped: ${reasons.map((r) => r.message).join('; ')}`);
    this.d.onSkipped?.(report);
  }
}
