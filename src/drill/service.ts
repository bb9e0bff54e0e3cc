/**
 * The drill service: starts drills (one per tenant at a time), keeps their reports in the
 * DrillStore as they go, answers for them, and recovers the drills a stopped process left
 * running. Built by the composition root (drill/wire.ts) with explicit dependencies; the admin
 * API, the CLI (through it), the scheduler and region drills all start drills here.
 *
 *   start(req)  preflight; refused → a `refused` report is stored and DrillRefusedError thrown;
 *               else resolves with the `running` report once the drill has started
 *   done(id)    the final report of a drill
 */
import { DrProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DrillServiceDeps, DrillTenant } from './deps.js';
import { DrillRefusedError } from './errors.js';
import { LiveTenant } from './live-tenant.js';
import { preflight } from './preflight.js';
import { recoverDrill } from './recovery.js';
import { drillId, iso, newReport, step } from './report.js';
import { DrillRun } from './runner.js';
import type { AnyDrillReport, DrillListEntry, DrillReport, DrillRequest } from './types.js';

interface Running {
  report: DrillReport;
  done: Promise<DrillReport>;
}

export class DrillService {
  private readonly now: () => number;
  private readonly log: Logger;
  /** Drills in progress in this process, by tenant. */
  private readonly byTenant = new Map<string, Running>();
  private readonly byId = new Map<string, Running>();
  /** Tenants being recovered at start-up: no drill of theirs starts meanwhile. */
  private readonly recovering = new Set<string>();
  private stopper = new AbortController();
  private stopped = false;

  constructor(private readonly d: DrillServiceDeps) {
    this.now = d.now ?? Date.now;
    this.log = d.logger.child({ component: 'drill' });
  }

  /** Start a drill; resolves with its `running` report, or throws DrillRefusedError / DRP_DRILL_RUNNING / DRP_NOT_FOUND. */
  start(req: DrillRequest): Promise<DrillReport> {
    // Clustered follower: the leader runs it (cluster/drills.ts).
    return this.d.forward?.(req) ?? this.startHere(req);
  }

  /** Start a drill in this process (the leader carrying out a forwarded one, or start()). */
  async startHere(req: DrillRequest): Promise<DrillReport> {
    if (this.stopped) throw new DrProxyError('DRP_DRILL_UNAVAILABLE', 'drproxy is stopping: no drill starts now');
    const t = this.d.tenant(req.tenant);
    if (!t) throw new DrProxyError('DRP_NOT_FOUND', `no tenant "${req.tenant}"`);
    // Fresh answers of the hooks the drill will call (bounded by their timeouts); from here on
    // nothing awaits until this drill has claimed its tenant.
    if (!this.byTenant.has(t.name)) await t.checkHooks?.();
    if (this.byTenant.has(t.name) || this.recovering.has(t.name)) {
      throw new DrProxyError('DRP_DRILL_RUNNING', `a drill of ${t.name} is running already (${this.byTenant.get(t.name)?.report.id ?? 'recovering an interrupted one'})`);
    }
    const now = this.now();
    const cfg = this.d.config();
    const pre = preflight({ tenant: t, to: req.to, running: false, hooks: (site) => this.hooks(t, site), now });
    const report = newReport({ id: drillId(t.name, now), req, cfg: t.config, runner: this.d.runner, dwellMs: req.dwell ?? cfg.drills.dwell, now, from: t.state.active, to: pre.to, epoch: t.state.epoch, auditFile: this.d.audit.file });
    report.steps.push(step('preflight', now, this.now(), pre.reasons.length ? 'failed' : 'ok', pre.reasons.length ? `${pre.reasons.length} reason(s)` : `target ${pre.to} ready`, { reasons: pre.reasons }));
    if (pre.reasons.length > 0) {
      report.status = 'refused';
      report.reasons = pre.reasons;
      report.ended_at = iso(this.now());
      this.audit(report, { event: 'drill', drill: report.id, tenant: t.name, step: 'preflight', result: 'refused', reasons: pre.reasons.map((r) => r.code) }, `drill ${report.id} refused: ${pre.reasons.map((r) => r.message).join('; ')}`);
      await this.close(report);
      throw new DrillRefusedError(t.name, pre.reasons, report.id);
    }
    let settle!: (p: Promise<DrillReport>) => void;
    const running: Running = { report, done: new Promise<DrillReport>((resolve) => (settle = resolve)) };
    // Whoever asks for it sees a failure; nobody asking is no unhandled rejection.
    running.done.catch(() => {});
    // Claimed before the first await: a second start for this tenant is refused from now on.
    this.byTenant.set(t.name, running);
    this.byId.set(report.id, running);
    this.audit(report, { event: 'drill', drill: report.id, tenant: t.name, step: 'preflight', result: 'ok', from: report.from, to: pre.to, actor: req.actor, reason: req.reason }, `drill ${report.id} of ${t.name}: ${report.from} → ${pre.to} started by ${req.actor}`);
    try {
      await this.d.store.put(report);
    } catch (err) {
      this.byTenant.delete(t.name);
      this.byId.delete(report.id);
      settle(Promise.reject(err as Error));
      throw err;
    }
    this.log.info({ drill: report.id, tenant: t.name, from: report.from, to: pre.to, dwell_ms: report.requested.dwell_ms }, 'drill started');
    settle(this.run(new LiveTenant(t, this.d.tenant), report, pre.to!, pre.host!, req));
    return structuredClone(report);
  }

  private async run(t: DrillTenant, report: DrillReport, to: string, host: string, req: DrillRequest): Promise<DrillReport> {
    const cfg = this.d.config();
    try {
      const run = new DrillRun({
        tenant: t,
        report,
        to,
        host,
        dwellMs: report.requested.dwell_ms,
        failback: req.failback,
        drills: cfg.drills,
        headers: cfg.headers,
        dataPlane: this.d.dataPlane,
        now: this.now,
        log: this.log.child({ drill: report.id, tenant: t.name }),
        audit: (fields, msg) => this.audit(report, fields, msg),
        save: () => this.save(report),
        signal: this.stopper.signal,
      });
      await run.run();
      this.audit(report, { event: 'drill', drill: report.id, tenant: t.name, step: 'report', result: report.status, measured_rto_ms: report.measured_rto_ms, reasons: report.reasons.map((r) => r.code) }, `drill ${report.id} of ${t.name}: ${report.status}`);
      const final = await this.close(report);
      this.log.info({ drill: report.id, tenant: t.name, status: final.status, measured_rto_ms: final.measured_rto_ms, reasons: final.reasons.map((r) => r.code) }, `drill ${final.status}`);
      return final;
    } finally {
      this.byTenant.delete(t.name);
      this.byId.delete(report.id);
    }
  }

  /** A drill's report: the live one while it runs here, else the stored one. */
  async get(id: string): Promise<AnyDrillReport | undefined> {
    const live = this.byId.get(id);
    return live ? structuredClone(live.report) : this.d.store.get(id);
  }

  list(filter?: { tenant?: string; limit?: number }): Promise<DrillListEntry[]> {
    return this.d.store.list(filter);
  }

  /** The final report of drill `id` (waits while it runs here). */
  async done(id: string): Promise<DrillReport> {
    const live = this.byId.get(id);
    if (live) return live.done;
    const r = await this.d.store.get(id);
    if (!r || r.kind !== 'drproxy.drill') throw new DrProxyError('DRP_NOT_FOUND', `no drill ${id}`);
    if (r.status === 'running') throw new DrProxyError('DRP_CONFLICT', `drill ${id} is running in another process (${r.runner})`);
    return r;
  }

  /** Is a drill of `tenant` running here? */
  isRunning(tenant: string): boolean {
    return this.byTenant.has(tenant) || this.recovering.has(tenant);
  }

  /** The report as Markdown, when a renderer was given. */
  markdown(r: AnyDrillReport): string | undefined {
    return this.d.markdown?.(r);
  }

  get hasMarkdown(): boolean {
    return this.d.markdown !== undefined;
  }

  /**
   * At start-up: every report still `running` belongs to a process that stopped mid-drill.
   * Each is marked `interrupted` and its tenant failed back or frozen (drills.on_interrupt).
   */
  async recoverInterrupted(): Promise<DrillReport[]> {
    const found = (await this.d.store.running()).filter((r): r is DrillReport => r.kind === 'drproxy.drill' && !this.byId.has(r.id));
    for (const r of found) this.recovering.add(r.tenant);
    const out: DrillReport[] = [];
    for (const r of found) {
      try {
        this.log.warn({ drill: r.id, tenant: r.tenant, runner: r.runner }, `drill ${r.id} was interrupted: recovering (drills.on_interrupt: ${this.d.config().drills.on_interrupt})`);
        await recoverDrill(r, { tenant: this.d.tenant, onInterrupt: this.d.config().drills.on_interrupt, settleMs: this.d.config().drills.verify.timeout, runner: this.d.runner, now: this.now, log: this.log, audit: (rep, f, m) => this.audit(rep, f, m) });
        out.push(await this.close(r));
      } finally {
        this.recovering.delete(r.tenant);
      }
    }
    return out;
  }

  /** Clustered: this replica stopped leading: its running drills end their dwell now (their flips and report writes are refused by etcd). */
  abandon(reason: string): void {
    this.stopper.abort(reason);
    this.stopper = new AbortController();
  }

  /** Stop: running drills end their dwell and fail back now; resolves once they are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopper.abort();
    await Promise.allSettled([...this.byId.values()].map((r) => r.done));
    await this.d.store.close();
  }

  private hooks(t: DrillTenant, site: string) {
    return this.d.hookChecks?.(t.name, site) ?? t.hookChecks?.(site) ?? {};
  }

  private audit(r: DrillReport, fields: Record<string, unknown>, msg: string): void {
    try {
      const ref = this.d.audit.event(fields, msg);
      if (ref) r.audit.records.push(ref);
    } catch (err) {
      this.log.error({ err, drill: r.id }, 'could not write the drill audit record');
    }
  }

  /** Persist a report mid-drill; a failure is logged (the drill goes on). */
  private async save(r: DrillReport): Promise<void> {
    try {
      await this.d.store.put(r);
    } catch (err) {
      this.log.error({ err, drill: r.id }, `could not save the report of drill ${r.id}`);
    }
  }

  /** The final report: chain head, the finish hook (signing), stored. */
  private async close(r: DrillReport): Promise<DrillReport> {
    const head = this.d.audit.head?.();
    if (head) r.audit.chain_head = head;
    let final = r;
    try {
      final = this.d.finish ? this.d.finish(r) : r;
    } catch (err) {
      this.log.error({ err, drill: r.id }, 'could not finish (sign) the drill report; stored unsigned');
    }
    await this.save(final);
    return final;
  }
}
