/** Hand-made drill reports (the shapes of src/drill/types.ts) for the renderer and signature tests. */
import { DRILL_CONTROLS, type DrillReport, type RegionDrillReport } from '../../src/drill/types.js';

export function sampleDrillReport(over: Partial<DrillReport> = {}): DrillReport {
  return {
    kind: 'drproxy.drill',
    version: 1,
    id: 'drill-20261206T101500Z-acme-1f2e3d',
    tenant: 'acme',
    tier: { name: 'BC', rpo_seconds: 900, rto_seconds: 900 },
    actor: 'ops',
    reason: 'quarterly DR test | *not* <b>bold</b>',
    trigger: 'operator',
    runner: 'proxy-1',
    requested: { to: 'b1', dwell_ms: 30_000, failback: true },
    status: 'passed',
    started_at: '2026-12-06T10:15:00.000Z',
    ended_at: '2026-12-06T10:15:41.250Z',
    from: 'a1',
    to: 'b1',
    steps: [
      { name: 'preflight', started_at: '2026-12-06T10:15:00.000Z', ended_at: '2026-12-06T10:15:00.004Z', duration_ms: 4, result: 'ok', detail: 'b1 ready' },
      { name: 'failover', started_at: '2026-12-06T10:15:00.004Z', ended_at: '2026-12-06T10:15:00.842Z', duration_ms: 838, result: 'ok', detail: 'a1 → b1, epoch 8, routed in 838 ms' },
      { name: 'verify', started_at: '2026-12-06T10:15:00.842Z', ended_at: '2026-12-06T10:15:01.238Z', duration_ms: 396, result: 'ok', detail: '3 attempts' },
      { name: 'dwell', started_at: '2026-12-06T10:15:01.238Z', ended_at: '2026-12-06T10:15:31.238Z', duration_ms: 30_000, result: 'ok' },
      { name: 'failback', started_at: '2026-12-06T10:15:31.238Z', ended_at: '2026-12-06T10:15:41.000Z', duration_ms: 9762, result: 'ok' },
      { name: 'verify_failback', started_at: '2026-12-06T10:15:41.000Z', ended_at: '2026-12-06T10:15:41.250Z', duration_ms: 250, result: 'ok' },
    ],
    measured_rto_ms: 1234,
    failback_rto_ms: 10_012,
    rto_ms: 900_000,
    data_age: { at_switch_seconds: 12, rpo_seconds: 900, within_rpo: true },
    traffic: { requests: 5120, errors: 3, error_rate: 3 / 5120, p99_ms: 41.5, p99_before_ms: 38.25 },
    epochs: { before: 7, drill: 8, after: 9 },
    reasons: [],
    audit: {
      file: '/var/lib/drproxy/audit.log',
      records: [
        { seq: 41, hash: 'a'.repeat(64) },
        { seq: 42, hash: 'b'.repeat(64) },
      ],
      chain_head: { seq: 44, hash: 'c'.repeat(64) },
    },
    controls: DRILL_CONTROLS,
    ...over,
  };
}

export function sampleRegionReport(): RegionDrillReport {
  const tenants = ['t1', 't2', 't3'].map((t, i) => ({
    tenant: t,
    drill_id: `drill-20261206T101500Z-${t}-00000${i}`,
    status: (i === 2 ? 'failed' : 'passed') as 'failed' | 'passed',
    measured_rto_ms: [800, 2500, 1200][i]!,
    rto_ms: 900_000,
    passed: i !== 2,
    reasons: i === 2 ? [{ code: 'verify_timeout', message: 'no answer from b1 within 10 s' }] : [],
  }));
  return {
    kind: 'drproxy.region_drill',
    version: 1,
    id: 'region-20261206T101500Z-A-abcdef',
    region: 'A',
    actor: 'ops',
    reason: 'annual full-scale test',
    runner: 'proxy-1',
    parallel: 2,
    requested: { dwell_ms: 10_000, failback: true },
    status: 'failed',
    started_at: '2026-12-06T10:15:00.000Z',
    ended_at: '2026-12-06T10:20:00.000Z',
    tenants,
    summary: { total: 3, passed: 2, failed: 1, slowest: { tenant: 't2', measured_rto_ms: 2500 } },
    audit: { records: [{ seq: 1, hash: 'd'.repeat(64) }], chain_head: { seq: 9, hash: 'e'.repeat(64) } },
    controls: DRILL_CONTROLS,
  };
}
