/**
 * The report of a scheduled drill that did not start (an alert firing, preflight refused it):
 * stored like any report, so that the evidence shows every planned drill and why it was skipped.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { TierConfig } from '../config/types.js';
import { DRILL_CONTROLS, type DrillReason, type DrillReport, type DrillRequest } from './types.js';

/** "drill-<UTC yyyymmddThhmmssZ>-<tenant>-<6 hex>" (types.ts): sortable, unique, a safe file name. */
export function drillId(prefix: 'drill' | 'region', subject: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${prefix}-${stamp}-${subject.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(3).toString('hex')}`;
}

export interface SkippedInput {
  req: DrillRequest;
  reasons: DrillReason[];
  tier: TierConfig;
  /** The tenant's active site and epoch when the drill was due. */
  from: string;
  epoch: number;
  now: number;
  dwellMs: number;
}

export function skippedReport({ req, reasons, tier, from, epoch, now, dwellMs }: SkippedInput): DrillReport {
  const at = new Date(now).toISOString();
  return {
    kind: 'drproxy.drill',
    version: 1,
    id: drillId('drill', req.tenant, now),
    tenant: req.tenant,
    tier: { name: tier.name, rpo_seconds: tier.rpo / 1000, rto_seconds: tier.rto / 1000 },
    actor: req.actor,
    reason: req.reason,
    trigger: req.trigger,
    ...(req.region_drill !== undefined && { region_drill: req.region_drill }),
    runner: hostname(),
    requested: { ...(req.to !== undefined && { to: req.to }), dwell_ms: dwellMs, failback: req.failback },
    status: 'skipped',
    started_at: at,
    ended_at: at,
    from,
    ...(req.to !== undefined && { to: req.to }),
    steps: [{ name: 'preflight', started_at: at, ended_at: at, duration_ms: 0, result: 'skipped', detail: `skipped: ${reasons.map((r) => r.message).join('; ')}` }],
    rto_ms: tier.rto,
    epochs: { before: epoch },
    reasons,
    audit: { records: [] },
    controls: DRILL_CONTROLS,
  };
}
