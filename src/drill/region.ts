/**
 * Region drills, the annual full-scale test (docs/drills.md): every tenant whose active site is
 * in region R is drilled, at most `parallel` at a time (the next starts as soon as one ends),
 * each a normal drill (trigger `region`, `region_drill` = this summary's id). One summary
 * report (RegionDrillReport) is stored when the region drill starts and again each time a
 * tenant's drill starts or ends: each tenant's measured RTO, pass or fail with the reasons, the
 * slowest, the totals. A tenant whose drill is refused (preflight) is listed as refused; it
 * does not stop the others.
 */
import { hostname } from 'node:os';
import { DrProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TenantConfig } from '../config/types.js';
import type { TenantState } from '../state/types.js';
import { drillId } from './skipped.js';
import { DRILL_CONTROLS, type AuditRef, type DrillReason, type DrillReport, type DrillRequest, type DrillStore, type RegionDrillEntry, type RegionDrillReport } from './types.js';

/** What a region drill needs of the drill service (DrillService fits). */
export interface RegionDrillService {
  /** Resolves with the `running` report; rejects when refused (an error carrying `reasons`) or busy. */
  start(req: DrillRequest): Promise<DrillReport>;
  /** The final report of a drill started here. */
  done(id: string): Promise<DrillReport>;
}

export interface RegionTenant {
  readonly name: string;
  readonly config: TenantConfig;
  readonly state: TenantState;
}

export interface RegionDrillDeps {
  service: RegionDrillService;
  store: DrillStore;
  tenants: () => Iterable<RegionTenant>;
  /** drills.parallel, drills.dwell (read at each start). */
  defaults: () => { parallel: number; dwell: number };
  /** Audit records of the region drill itself (AuditLog; a chained log answers with a reference). */
  audit?: (fields: Record<string, unknown>, msg: string) => AuditRef | undefined | void;
  /** Close the final summary (sign it, name the audit chain's head). */
  finish?: (r: RegionDrillReport) => RegionDrillReport;
  now: () => number;
  log: Logger;
  runner?: string;
  /** Clustered: the leader's answer when this replica does not lead (cluster/drills.ts); undefined: run here. */
  forward?: (req: RegionDrillRequest) => Promise<RegionDrillReport> | undefined;
}

export interface RegionDrillRequest {
  region: string;
  parallel?: number;
  dwell?: number;
  failback: boolean;
  reason: string;
  actor: string;
}

/** The tenants a drill of `region` takes: those whose active site is in it, in config order. */
export function tenantsIn(tenants: Iterable<RegionTenant>, region: string): RegionTenant[] {
  return [...tenants].filter((t) => t.config.sites.find((s) => s.name === t.state.active)?.region === region);
}

/** Totals, and the slowest measured RTO, over the tenants listed so far. */
export function summarize(entries: readonly RegionDrillEntry[]): NonNullable<RegionDrillReport['summary']> {
  const done = entries.filter((e) => e.status !== 'running');
  let slowest: { tenant: string; measured_rto_ms: number } | undefined;
  for (const e of entries) if (e.measured_rto_ms !== undefined && (!slowest || e.measured_rto_ms > slowest.measured_rto_ms)) slowest = { tenant: e.tenant, measured_rto_ms: e.measured_rto_ms };
  const passed = done.filter((e) => e.passed).length;
  return { total: entries.length, passed, failed: done.length - passed, ...(slowest && { slowest }) };
}

export class RegionDrills {
  private readonly live = new Map<string, { report: RegionDrillReport; done: Promise<RegionDrillReport> }>();
  /** Writes of one summary, in order (each replaces the whole document). */
  private writes: Promise<void> = Promise.resolve();
  /** drproxy is stopping: no further tenant's drill starts; the summary ends `interrupted`. */
  private stopping = false;
  /** Bumped by abandon(): a region drill started under an older term starts no further tenant. */
  private term = 0;

  constructor(private readonly d: RegionDrillDeps) {}

  /** Start a region drill (on the leader, clustered): resolves with its `running` summary once stored. */
  start(req: RegionDrillRequest): Promise<RegionDrillReport> {
    return this.d.forward?.(req) ?? this.startHere(req);
  }

  /** Start a region drill in this process (start(), or the leader carrying out a forwarded one). */
  async startHere(req: RegionDrillRequest): Promise<RegionDrillReport> {
    if ([...this.live.values()].some((x) => x.report.region === req.region)) throw new DrProxyError('DRP_DRILL_RUNNING', `a region drill of ${req.region} is running already`);
    const tenants = tenantsIn(this.d.tenants(), req.region);
    if (tenants.length === 0) throw new DrProxyError('DRP_NOT_FOUND', `no tenant's active site is in region "${req.region}"`);
    const def = this.d.defaults();
    const now = this.d.now();
    const report: RegionDrillReport = {
      kind: 'drproxy.region_drill',
      version: 1,
      id: drillId('region', req.region, now),
      region: req.region,
      actor: req.actor,
      reason: req.reason,
      runner: this.d.runner ?? hostname(),
      parallel: req.parallel ?? def.parallel,
      requested: { dwell_ms: req.dwell ?? def.dwell, failback: req.failback },
      status: 'running',
      started_at: new Date(now).toISOString(),
      tenants: [],
      summary: { total: 0, passed: 0, failed: 0 },
      audit: { records: [] },
      controls: DRILL_CONTROLS,
    };
    this.audit(report, { event: 'region_drill', drill: report.id, region: req.region, step: 'start', tenants: tenants.length, parallel: report.parallel, actor: req.actor, reason: req.reason }, `region drill ${report.id} of ${req.region}: ${tenants.length} tenant(s), ${report.parallel} at a time, started by ${req.actor}`);
    await this.d.store.put(report);
    const done = this.run(report, tenants, req).finally(() => this.live.delete(report.id));
    this.live.set(report.id, { report, done });
    this.d.log.info({ region_drill: report.id, region: req.region, tenants: tenants.length, parallel: report.parallel }, 'region drill started');
    return structuredClone(report);
  }

  /** The summary as it is now (live here, else stored). */
  async get(id: string): Promise<RegionDrillReport | undefined> {
    const l = this.live.get(id);
    if (l) return structuredClone(l.report);
    const r = await this.d.store.get(id);
    return r?.kind === 'drproxy.region_drill' ? r : undefined;
  }

  /** The final summary of a region drill running here (or stored). */
  async done(id: string): Promise<RegionDrillReport> {
    const l = this.live.get(id);
    if (l) return l.done;
    const r = await this.get(id);
    if (!r) throw new DrProxyError('DRP_NOT_FOUND', `no region drill ${id}`);
    return r;
  }

  /** At start-up: a summary left `running` belongs to a stopped process: marked interrupted. */
  async recoverInterrupted(): Promise<RegionDrillReport[]> {
    const found = (await this.d.store.running()).filter((r): r is RegionDrillReport => r.kind === 'drproxy.region_drill' && !this.live.has(r.id));
    for (const r of found) {
      r.status = 'interrupted';
      r.ended_at = new Date(this.d.now()).toISOString();
      for (const e of r.tenants) if (e.status === 'running') Object.assign(e, { status: 'interrupted', passed: false, reasons: [{ code: 'interrupted', message: 'drproxy stopped during the region drill: see the tenant drill report' }] });
      r.summary = summarize(r.tenants);
      this.audit(r, { event: 'region_drill', drill: r.id, region: r.region, step: 'recovery', result: 'interrupted' }, `region drill ${r.id} of ${r.region} was interrupted`);
      await this.d.store.put(this.close(r));
    }
    return found;
  }

  /** This replica stopped leading: its region drills start no further tenant (their summaries end `interrupted`; the new leader marks them so). */
  abandon(): void {
    this.term++;
  }

  /** A region drill runs in this process. */
  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** No further tenant starts; resolves once every region drill running here has ended (their drills fail back on stop). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.live.values()].map((l) => l.done));
  }

  private async run(report: RegionDrillReport, tenants: RegionTenant[], req: RegionDrillRequest): Promise<RegionDrillReport> {
    let next = 0;
    const term = this.term;
    const worker = async (): Promise<void> => {
      while (!this.stopping && term === this.term && next < tenants.length) await this.drillOne(report, tenants[next++]!, req);
    };
    await Promise.all(Array.from({ length: Math.min(report.parallel, tenants.length) }, worker));
    report.summary = summarize(report.tenants);
    // Stopped before every tenant's drill started: interrupted (the ones not started are not listed).
    if (report.tenants.length < tenants.length) report.status = 'interrupted';
    else report.status = report.summary.passed === report.tenants.length ? 'passed' : 'failed';
    report.ended_at = new Date(this.d.now()).toISOString();
    const s = report.summary;
    this.audit(report, { event: 'region_drill', drill: report.id, region: report.region, step: 'report', result: report.status, passed: s.passed, failed: s.failed, slowest: s.slowest }, `region drill ${report.id} of ${report.region}: ${report.status} (${s.passed}/${s.total} passed)`);
    const final = this.close(report);
    await this.save(final);
    this.d.log.info({ region_drill: report.id, status: final.status, ...s }, `region drill ${final.status}`);
    return final;
  }

  /** One tenant's drill, start to final report; its line in the summary follows it. */
  private async drillOne(report: RegionDrillReport, t: RegionTenant, req: RegionDrillRequest): Promise<void> {
    const entry: RegionDrillEntry = { tenant: t.name, status: 'running', rto_ms: t.config.tier.rto, passed: false, reasons: [] };
    report.tenants.push(entry);
    try {
      const started = await this.d.service.start({
        tenant: t.name,
        dwell: report.requested.dwell_ms,
        failback: req.failback,
        reason: `region drill ${report.id} (${report.region}): ${req.reason}`,
        actor: req.actor,
        trigger: 'region',
        region_drill: report.id,
      });
      entry.drill_id = started.id;
      await this.save(report);
      const final = await this.d.service.done(started.id);
      Object.assign(entry, lineOf(final));
    } catch (err) {
      const e = err as { code?: string; message?: string; reasons?: DrillReason[]; id?: string };
      entry.status = 'refused';
      // DRP_DRILL_RUNNING → drill_running, as preflight names it.
      const code = (e.code ?? 'not_started').replace(/^DRP_/, '').toLowerCase();
      entry.reasons = Array.isArray(e.reasons) && e.reasons.length > 0 ? e.reasons : [{ code, message: e.message ?? String(err) }];
      if (typeof e.id === 'string') entry.drill_id = e.id;
    }
    report.summary = summarize(report.tenants);
    await this.save(report);
  }

  private close(r: RegionDrillReport): RegionDrillReport {
    try {
      return this.d.finish ? this.d.finish(r) : r;
    } catch (err) {
      this.d.log.error({ err, region_drill: r.id }, 'could not close the region drill summary (signing): stored unsigned');
      return r;
    }
  }

  private audit(r: RegionDrillReport, fields: Record<string, unknown>, msg: string): void {
    try {
      const ref = this.d.audit?.(fields, msg);
      if (ref) r.audit.records.push(ref);
    } catch (err) {
      this.d.log.error({ err, region_drill: r.id }, 'could not write the region drill audit record');
    }
  }

  /** Store the summary as it is now; writes are serialised, a failure is logged (the drill goes on). */
  private save(r: RegionDrillReport): Promise<void> {
    const copy = structuredClone(r);
    this.writes = this.writes.then(() =>
      this.d.store.put(copy).catch((err: unknown) => {
        this.d.log.error({ err, region_drill: r.id }, `could not save the summary of region drill ${r.id}`);
      }),
    );
    return this.writes;
  }
}

/** A tenant's summary line from its final drill report. */
function lineOf(r: DrillReport): Partial<RegionDrillEntry> {
  return { drill_id: r.id, status: r.status, ...(r.measured_rto_ms !== undefined && { measured_rto_ms: r.measured_rto_ms }), rto_ms: r.rto_ms, passed: r.status === 'passed', reasons: r.reasons };
}
