/**
 * Building a drill's report: its id, its first (`running` or `refused`) form, its steps, and
 * its final status from the reasons gathered on the way.
 */
import { randomBytes } from 'node:crypto';
import type { TenantConfig } from '../config/types.js';
import type { FlipRecord } from '../failover/flip.js';
import { stepsSinceDetection } from '../failover/flip.js';
import { DRILL_CONTROLS, type DrillReport, type DrillRequest, type DrillStep, type DrillStepName } from './types.js';

export const iso = (ms: number): string => new Date(ms).toISOString();

/** "drill-20261206T193012Z-acme-1f2e3d": sortable, unique, a safe file name. */
export function drillId(tenant: string, now: number): string {
  const t = iso(now).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `drill-${t}-${tenant}-${randomBytes(3).toString('hex')}`;
}

export function newReport(o: { id: string; req: DrillRequest; cfg: TenantConfig; runner: string; dwellMs: number; now: number; from: string; to?: string | undefined; epoch: number; auditFile?: string | undefined }): DrillReport {
  const { req, cfg } = o;
  return {
    kind: 'drproxy.drill',
    version: 1,
    id: o.id,
    tenant: req.tenant,
    tier: { name: cfg.tier.name, rpo_seconds: cfg.tier.rpo / 1000, rto_seconds: cfg.tier.rto / 1000 },
    actor: req.actor,
    reason: req.reason,
    trigger: req.trigger,
    ...(req.region_drill !== undefined && { region_drill: req.region_drill }),
    runner: o.runner,
    requested: { ...(req.to !== undefined && { to: req.to }), dwell_ms: o.dwellMs, failback: req.failback },
    status: 'running',
    started_at: iso(o.now),
    from: o.from,
    ...(o.to !== undefined && { to: o.to }),
    steps: [],
    rto_ms: cfg.tier.rto,
    epochs: { before: o.epoch },
    reasons: [],
    audit: { ...(o.auditFile !== undefined && { file: o.auditFile }), records: [] },
    controls: DRILL_CONTROLS,
  };
}

/** A step from start to end; `data` and `detail` optional. */
export function step(name: DrillStepName, start: number, end: number | undefined, result: DrillStep['result'], detail?: string, data?: Record<string, unknown>): DrillStep {
  return {
    name,
    started_at: iso(start),
    ...(end !== undefined && { ended_at: iso(end), duration_ms: end - start }),
    result,
    ...(detail !== undefined && { detail }),
    ...(data !== undefined && { data }),
  };
}

/** A flip's step: its timings are the flip record's (as for any flip). */
export function flipStep(name: 'failover' | 'failback', r: FlipRecord): DrillStep {
  const t = r.timings;
  const ok = r.result === 'routed';
  const detail = `${r.from} → ${r.to}, epoch ${r.epoch}, ${r.result} in ${Math.round(t.routedAt - t.trippedAt)} ms`;
  return step(name, t.trippedAt, t.routedAt, ok ? 'ok' : 'failed', detail, {
    epoch: r.epoch,
    from: r.from,
    to: r.to,
    result: r.result,
    requested_at: iso(t.trippedAt),
    persisted_at: iso(t.persistedAt),
    drained_at: iso(t.drainedAt),
    fenced_at: iso(t.fencedAt),
    promoted_at: iso(t.promotedAt),
    routed_at: iso(t.routedAt),
    steps_ms: stepsSinceDetection(t),
    ...(r.drain && { drain: r.drain }),
    ...(r.fence && { fence: r.fence }),
    ...(r.promote && { promote: r.promote }),
  });
}

/** The final status: aborted when a guard tripped, else failed with any reason, else passed. */
export function finalStatus(r: DrillReport, aborted: boolean): DrillReport['status'] {
  if (aborted) return 'aborted';
  return r.reasons.length > 0 ? 'failed' : 'passed';
}
