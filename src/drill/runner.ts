/**
 * One drill, after its preflight passed: the planned failover (trigger `drill`) through the
 * tenant controller, verification through the data plane, the dwell under its guard, the
 * failback to the original site (verified the same way), the target's state after it
 * (`restore`), and the report's figures. A drill's flips fence neither site (decide.ts, rule
 * 4): the original site stays the way back while the tenant is on the target. The report is saved after each step, so that a drill
 * cut short by a crash is found at start-up and recovered (recovery.ts).
 */
import type { DrillsConfig, HeaderNames } from '../config/types.js';
import type { Logger } from '../log.js';
import type { FlipRecord } from '../failover/flip.js';
import { checkTarget } from '../failover/operator.js';
import type { DrillTenant } from './deps.js';
import { dwell, TrafficWindow } from './guard.js';
import { finalStatus, flipStep, iso, step } from './report.js';
import type { DrillReason, DrillReport, DrillStep } from './types.js';
import { SyntheticCount, verifyThrough } from './verifier.js';
import type { DrillTarget } from './drill-target.js';

export interface RunDeps {
  tenant: DrillTenant;
  /** The report, filled in place as the drill goes. */
  report: DrillReport;
  to: string;
  host: string;
  dwellMs: number;
  failback: boolean;
  drills: DrillsConfig;
  headers: HeaderNames;
  dataPlane: () => DrillTarget | undefined;
  now: () => number;
  log: Logger;
  /** An audit record for a step of this drill (its reference goes into the report). */
  audit: (fields: Record<string, unknown>, msg: string) => void;
  /** Persist the report as it is now (never throws: a failed write is logged). */
  save: () => Promise<void>;
  /** The service stops: the dwell ends and the tenant is failed back at once. */
  signal: AbortSignal;
}

export class DrillRun {
  private aborted = false;
  private readonly synthetic = new SyntheticCount();
  private readonly window: TrafficWindow;

  constructor(private readonly d: RunDeps) {
    this.window = new TrafficWindow(d.tenant, this.synthetic);
  }

  private get r(): DrillReport {
    return this.d.report;
  }

  private reason(code: string, message: string, site?: string): void {
    this.r.reasons.push({ code, message, ...(site !== undefined && { site }) });
  }

  private async add(s: DrillStep): Promise<void> {
    const i = this.r.steps.findIndex((x) => x.name === s.name && x.result === 'running');
    if (i >= 0) this.r.steps[i] = s;
    else this.r.steps.push(s);
    this.d.audit({ event: 'drill', drill: this.r.id, tenant: this.r.tenant, step: s.name, result: s.result, ...(s.detail !== undefined && { detail: s.detail }) }, `drill ${this.r.id} ${s.name}: ${s.result}${s.detail ? ` (${s.detail})` : ''}`);
    await this.d.save();
  }

  async run(): Promise<DrillReport> {
    const { tenant: t } = this.d;
    const p99Before = this.window.p99Before();
    t.holdForDrill(true);
    try {
      const flip = await this.failover();
      if (flip?.result === 'routed') {
        await this.verify('verify', flip);
        await this.dwellStep();
      }
      const back = this.d.failback || this.aborted;
      if (back && flip?.result === 'routed') await this.failback();
      if (back && flip?.result === 'routed' && t.state.active === this.r.from) await this.restore();
    } catch (err) {
      this.d.log.error({ err, drill: this.r.id }, 'drill failed unexpectedly');
      this.reason('internal', `the drill failed unexpectedly: ${(err as Error).message}`);
    } finally {
      t.holdForDrill(false);
    }
    this.close(p99Before);
    return this.r;
  }

  /** The figures and the final status. */
  private close(p99Before: number | undefined): void {
    const r = this.r;
    const f = this.window.figures();
    r.traffic = { ...f, ...(p99Before !== undefined && { p99_before_ms: p99Before }) };
    r.epochs.after = this.d.tenant.state.epoch;
    if (r.measured_rto_ms !== undefined && r.measured_rto_ms > r.rto_ms) this.reason('rto_exceeded', `measured RTO ${r.measured_rto_ms} ms is over the ${r.tier.name} RTO of ${r.rto_ms} ms`);
    if (r.data_age?.within_rpo === false) this.reason('rpo_exceeded', `the target's data age at the switch (${r.data_age.at_switch_seconds} s) was over the RPO of ${r.data_age.rpo_seconds} s`, r.to);
    if ((this.d.failback || this.aborted) && this.d.tenant.state.active !== r.from) this.reason('not_failed_back', `the tenant is on ${this.d.tenant.state.active}, not back on ${r.from}`);
    r.status = finalStatus(r, this.aborted);
    r.ended_at = iso(this.d.now());
  }

  /** The planned failover to the target, trigger `drill`. */
  private async failover(): Promise<FlipRecord | undefined> {
    const { tenant: t, to } = this.d;
    const start = this.d.now();
    this.r.steps.push(step('failover', start, undefined, 'running'));
    await this.d.save();
    try {
      const rec = await t.failover({ to, trigger: 'drill', reason: `drill ${this.r.id}: ${this.r.reason}`, actor: this.r.actor, check: () => checkTarget(t, to, false, false) });
      this.r.epochs.drill = rec.epoch;
      const age = t.site(to)?.dataAgeSeconds();
      const rpo = this.r.tier.rpo_seconds;
      this.r.data_age = { ...(age !== undefined && { at_switch_seconds: age, within_rpo: age <= rpo }), rpo_seconds: rpo };
      if (rec.result !== 'routed') this.reason('failover_failed', `the drill's failover ${rec.result === 'stayed' ? `stayed on ${rec.from}` : 'froze the tenant'}: ${rec.reason}`, to);
      await this.add(flipStep('failover', rec));
      return rec;
    } catch (err) {
      this.reason('failover_failed', `the drill's failover to ${to} did not start: ${(err as Error).message}`, to);
      await this.add(step('failover', start, this.d.now(), 'failed', (err as Error).message));
      return undefined;
    }
  }

  /** Synthetic requests through the data plane until the flip's site answers at its epoch. */
  private async verify(name: 'verify' | 'verify_failback', flip: FlipRecord): Promise<void> {
    const dp = this.d.dataPlane();
    const start = this.d.now();
    if (!dp) {
      this.reason('verify_unavailable', 'the data plane is not listening: nothing to verify through');
      return void (await this.add(step(name, start, this.d.now(), 'failed', 'the data plane is not listening')));
    }
    const cfg = this.d.tenant.config.drill;
    const v = await verifyThrough({ ...dp, host: this.d.host, verify: cfg, headers: this.d.headers, now: this.d.now, signal: this.d.signal }, { site: flip.to, epoch: flip.epoch }, this.synthetic);
    const data = { site: flip.to, epoch: flip.epoch, host: this.d.host, path: cfg.path, attempts: v.attempts, statuses: v.statuses, ...(v.last && { last_unverified: v.last }) };
    if (v.verified) {
      const rto = v.at! - flip.timings.trippedAt;
      if (name === 'verify') this.r.measured_rto_ms = rto;
      else this.r.failback_rto_ms = rto;
      return void (await this.add(step(name, start, v.at!, 'ok', `${flip.to} answered at epoch ${flip.epoch}, ${rto} ms after the flip started`, { ...data, verified_at: iso(v.at!), rto_ms: rto })));
    }
    const why = this.d.signal.aborted ? 'stopped (drproxy is stopping)' : `no answer from ${flip.to} at epoch ${flip.epoch} within ${cfg.timeout} ms`;
    this.reason(name === 'verify' ? 'verify_failed' : 'verify_failback_failed', `${name}: ${why}`, flip.to);
    await this.add(step(name, start, this.d.now(), 'failed', why, data));
  }

  /** Stay on the target for the dwell, under the guard. */
  private async dwellStep(): Promise<void> {
    const { to } = this.d;
    const start = this.d.now();
    this.r.steps.push(step('dwell', start, undefined, 'running', `on ${to} for ${this.d.dwellMs} ms`));
    await this.d.save();
    const window = new TrafficWindow(this.d.tenant, this.synthetic);
    const res = await dwell({ ms: this.d.dwellMs, tenant: this.d.tenant, target: to, guard: this.d.drills.guard, window, now: this.d.now, signal: this.d.signal });
    const data = { ...res.figures, samples: res.samples, guard: this.d.drills.guard };
    if (res.abort || res.stopped) {
      this.aborted = true;
      const why = typeof this.d.signal.reason === 'string' ? this.d.signal.reason : 'drproxy is stopping';
      const reason: DrillReason = res.abort ?? { code: 'stopped', message: `${why}: the drill fails back now` };
      this.r.reasons.push(reason);
      this.d.log.warn({ drill: this.r.id, tenant: this.r.tenant, reason: reason.code }, `drill aborted: ${reason.message}; failing back`);
      return void (await this.add(step('dwell', start, this.d.now(), 'aborted', reason.message, data)));
    }
    await this.add(step('dwell', start, this.d.now(), 'ok', `${res.figures.requests} requests, ${res.figures.errors} errors on ${to}`, data));
  }

  /** Back to the original site (fenced by the drill's flip: allowed), verified. */
  private async failback(): Promise<void> {
    const { tenant: t } = this.d;
    const from = this.r.from;
    const start = this.d.now();
    if (t.state.active === from && t.state.phase === 'active') return void (await this.add(step('failback', start, start, 'skipped', `already back on ${from} (${t.state.trigger}: ${t.state.reason})`)));
    try {
      const rec = await t.failover({ to: from, trigger: 'drill', reason: `drill ${this.r.id}: failback to ${from}`, actor: this.r.actor, check: () => checkTarget(t, from, false, true) });
      if (rec.result !== 'routed') this.reason('failback_failed', `the failback to ${from} ${rec.result}`, from);
      await this.add(flipStep('failback', rec));
      if (rec.result !== 'routed') return;
      if (this.d.signal.aborted) return void (await this.add(step('verify_failback', this.d.now(), this.d.now(), 'skipped', 'drproxy is stopping')));
      await this.verify('verify_failback', rec);
    } catch (err) {
      // A health failover got there first (the target failed): the tenant is back all the same.
      if (t.state.active === from && t.state.phase === 'active') return void (await this.add(step('failback', start, this.d.now(), 'skipped', `already back on ${from} (${t.state.trigger}: ${t.state.reason})`)));
      const message = `the failback to ${from} did not happen: ${(err as Error).message}`;
      this.reason('failback_failed', message, from);
      // Clustered: this replica lost its leadership; the next leader recovers the drill (cluster/drills.ts).
      if ((err as { code?: string }).code === 'DRP_NOT_LEADER') this.d.log.warn({ drill: this.r.id, tenant: t.name }, `${message}; the next leader recovers the drill`);
      else this.d.log.error({ alert: true, event: 'drill_failback_failed', drill: this.r.id, tenant: t.name }, `${message}; the tenant stays on ${t.state.active}: an operator decides`);
      await this.add(step('failback', start, this.d.now(), 'failed', message));
    }
  }

  /**
   * The target as the drill leaves it: a drill's flips fence nothing (decide.ts, rule 4), so it
   * is the unfenced standby it was at preflight, unless a health failover during the drill
   * fenced it for a real failure: that fence is left for an operator.
   */
  private async restore(): Promise<void> {
    const { tenant: t, to } = this.d;
    const now = this.d.now();
    const fenced = t.state.fenced.includes(to);
    const detail = fenced ? `${to} was fenced during the drill (${t.state.trigger}: ${t.state.reason}): left for an operator` : `${to} is unfenced: a standby again`;
    await this.add(step('restore', now, now, fenced ? 'skipped' : 'ok', detail, { fenced: t.state.fenced }));
  }

}
