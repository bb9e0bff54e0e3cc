/**
 * The shapes a drill shares with its store, its report renderers, the admin API, the CLI, the
 * scheduler and region drills (docs/drills.md). A report is the audit evidence of one drill:
 * everything in it is measured by the proxy itself, and once the drill ends it is never changed
 * again (it is signed when a key is configured, and names the audit chain's head).
 */

/** Where a drill is. `running` only while its runner lives; the others are final. */
export type DrillStatus =
  /** In progress (a report found `running` at start-up belongs to a killed process: `interrupted`). */
  | 'running'
  /** Every step done and every check met. */
  | 'passed'
  /** Ran to its end, but a check was not met (RTO exceeded, data age over the RPO, verify timed out...). */
  | 'failed'
  /** A guard tripped during the dwell (errors, latency, target unhealthy): failed back at once. */
  | 'aborted'
  /** Preflight failed: nothing was changed. */
  | 'refused'
  /** The process running it stopped in the middle (SIGKILL, leader lost): recovered at start-up. */
  | 'interrupted'
  /** A scheduled drill that did not start (preflight failed, an alert firing, a blocked window). */
  | 'skipped';

export type DrillTrigger = 'operator' | 'schedule' | 'region';

export type DrillStepName = 'preflight' | 'failover' | 'verify' | 'dwell' | 'failback' | 'verify_failback' | 'restore' | 'recovery';

export interface DrillStep {
  name: DrillStepName;
  /** ISO 8601 instants (UTC, ms). */
  started_at: string;
  ended_at?: string;
  duration_ms?: number;
  result: 'ok' | 'failed' | 'skipped' | 'aborted' | 'running';
  /** One line for people: what happened. */
  detail?: string;
  /** Step-specific measurements (a flip's timings, the verify attempts, the guard's readings). */
  data?: Record<string, unknown>;
}

/** A reference to one record of the hash-chained audit file (src/evidence/). */
export interface AuditRef {
  /** The record's sequence number in its file (1 = first line). */
  seq: number;
  /** Its hash (hex SHA-256), as the chain stores it. */
  hash: string;
}

/** One preflight or readiness finding that refuses a drill. */
export interface DrillReason {
  /** Stable code: not_active, frozen, min_interval, drill_running, unknown_site, same_site, and the readiness codes (health/readiness.ts). */
  code: string;
  message: string;
  site?: string;
}

export interface ControlRef {
  framework: 'SOC 2' | 'ISO/IEC 27001:2022';
  control: string;
  title: string;
}

export const DRILL_CONTROLS: readonly ControlRef[] = Object.freeze([
  Object.freeze({ framework: 'SOC 2', control: 'A1.3', title: 'Recovery plan testing' } as const),
  Object.freeze({ framework: 'ISO/IEC 27001:2022', control: 'A.5.30', title: 'ICT readiness for business continuity' } as const),
]);

export interface DrillRequest {
  tenant: string;
  /** Target site; unset: the site an automatic failover would choose. */
  to?: string;
  /** Dwell on the target, ms; unset: drills.dwell (or the schedule's). */
  dwell?: number;
  /** false: stay on the target (`--no-failback`). */
  failback: boolean;
  reason: string;
  actor: string;
  trigger: DrillTrigger;
  /** The region drill this drill belongs to. */
  region_drill?: string;
}

export interface DrillReport {
  kind: 'drproxy.drill';
  /** Format version of this document. */
  version: 1;
  /** "drill-<UTC yyyymmddThhmmssZ>-<tenant>-<6 hex>": sortable, unique, a safe file name. */
  id: string;
  tenant: string;
  tier: { name: string; rpo_seconds: number; rto_seconds: number };
  actor: string;
  reason: string;
  trigger: DrillTrigger;
  region_drill?: string;
  /** The replica (clustered) or host that ran it. */
  runner: string;
  requested: { to?: string; dwell_ms: number; failback: boolean };
  status: DrillStatus;
  started_at: string;
  ended_at?: string;
  /** The site the tenant was on when the drill started, and the drill's target. */
  from: string;
  to?: string;
  steps: DrillStep[];
  /** Flip start → first verified answer from the target, ms (the drill's measured RTO). */
  measured_rto_ms?: number;
  /** The same for the failback. */
  failback_rto_ms?: number;
  rto_ms: number;
  /** The target's data age when traffic switched, against the tier's RPO (the data a real failover would have lost). */
  data_age?: { at_switch_seconds?: number; rpo_seconds: number; within_rpo?: boolean };
  /** The tenant's real traffic while the drill ran (synthetic verify requests not counted where they can be told apart). */
  traffic?: { requests: number; errors: number; error_rate: number; p99_ms?: number; p99_before_ms?: number };
  epochs: { before: number; drill?: number; after?: number };
  /** Why it failed, aborted, was refused, skipped or interrupted; empty when it passed. */
  reasons: DrillReason[];
  /** The audit records this drill wrote, and the chain's head when the report was closed. */
  audit: { file?: string; records: AuditRef[]; chain_head?: AuditRef };
  controls: readonly ControlRef[];
  /** Ed25519 signature over the canonical JSON of every other field (src/evidence/). */
  signature?: ReportSignature;
}

export interface ReportSignature {
  alg: 'Ed25519';
  /** SHA-256 (hex, first 16 chars) of the public key's DER (SPKI): which key signed. */
  key_id: string;
  /** The public key (SPKI PEM), so that the report can be checked without the proxy. */
  public_key: string;
  /** base64 */
  value: string;
}

/** One tenant's line of a region drill's summary. */
export interface RegionDrillEntry {
  tenant: string;
  drill_id?: string;
  status: DrillStatus;
  measured_rto_ms?: number;
  rto_ms: number;
  passed: boolean;
  reasons: DrillReason[];
}

export interface RegionDrillReport {
  kind: 'drproxy.region_drill';
  version: 1;
  id: string;
  region: string;
  actor: string;
  reason: string;
  runner: string;
  parallel: number;
  requested: { dwell_ms: number; failback: boolean };
  status: 'running' | 'passed' | 'failed' | 'interrupted';
  started_at: string;
  ended_at?: string;
  tenants: RegionDrillEntry[];
  summary?: { total: number; passed: number; failed: number; slowest?: { tenant: string; measured_rto_ms: number } };
  audit: { file?: string; records: AuditRef[]; chain_head?: AuditRef };
  controls: readonly ControlRef[];
  signature?: ReportSignature;
}

export type AnyDrillReport = DrillReport | RegionDrillReport;

/** A line of `GET /drills`. */
export interface DrillListEntry {
  id: string;
  kind: AnyDrillReport['kind'];
  tenant?: string;
  region?: string;
  status: DrillStatus;
  started_at: string;
  ended_at?: string;
  measured_rto_ms?: number;
}

/**
 * Where reports live: the state directory (embedded), etcd (clustered). `put` replaces the
 * report of the same id and is durable when it resolves. A report is written when the drill
 * starts (`running`), after each step, and once final.
 */
export interface DrillStore {
  put(report: AnyDrillReport): Promise<void>;
  get(id: string): Promise<AnyDrillReport | undefined>;
  /** Newest first. */
  list(filter?: { tenant?: string; limit?: number }): Promise<DrillListEntry[]>;
  /** Reports still `running` (at start-up: drills a killed process left). */
  running(): Promise<AnyDrillReport[]>;
  close(): Promise<void>;
}
