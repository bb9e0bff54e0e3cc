/**
 * What the page reads from the admin API. The fleet summaries and stream events are defined
 * here once and re-exported by src/console/contract.ts for the server. The page compiles for the
 * browser alone (no Node types), so the detail shapes below (a flip's record, GET /tenants/:t)
 * are the page's reading of the server's types: test/console-contract.test.ts fails to
 * typecheck when the server's FlipRecord drifts from it, and checks the real answers.
 */
export type TenantPhase = 'active' | 'failing_over' | 'frozen';

/** One tenant on the fleet view. */
export interface TenantSummary {
  name: string;
  tier: string;
  phase: TenantPhase;
  epoch: number;
  active: string;
  /** The first site of its preference order. */
  preferred: string;
  /** active !== preferred. */
  off_preferred: boolean;
  frozen_cause?: string;
  /** Regions of its sites, in preference order, without repeats (for the region filter). */
  regions: string[];
  fenced: string[];
  /** Sites available by health / sites configured. */
  sites_available: number;
  sites: number;
  reason?: string;
  updated_at?: string;
}

export type FleetCounts = Record<TenantPhase, number> & { off_preferred: number; total: number };

export interface FleetSnapshot {
  /** Server time, ISO 8601. */
  at: string;
  version: string;
  counts: FleetCounts;
  automatic: { enabled: boolean; reason?: string; by?: string };
  cluster?: { replica: string; leader: string | null; leading: boolean };
  tenants: TenantSummary[];
}

export interface TenantsChanged {
  at: string;
  counts: FleetCounts;
  tenants: TenantSummary[];
  /** Tenants gone (a reload removed them). */
  removed: string[];
}

export interface FlipTimings {
  detectedAt: number;
  trippedAt: number;
  persistedAt: number;
  drainedAt: number;
  fencedAt: number;
  promotedAt: number;
  routedAt: number;
}

export interface HookResultView {
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

export interface FlipRecord {
  tenant: string;
  tier: string;
  from: string;
  to: string;
  epoch: number;
  trigger: string;
  reason: string;
  actor?: string;
  result: 'routed' | 'stayed' | 'frozen';
  drain?: { inflight: number; redispatched: number; finished: number; cut: number; upgrades: number };
  fence?: HookResultView;
  promote?: HookResultView;
  timings: FlipTimings;
  durationMs: number;
  rtoMs: number;
}

export interface FlipEvent {
  tenant: string;
  record: FlipRecord;
}

export interface WhoAmI {
  name: string;
  role: 'viewer' | 'operator';
}

/** GET /tenants/:t (src/admin/tenant-status.ts). */
export interface BackendDetail {
  name: string;
  url: string;
  state: 'unknown' | 'up' | 'down';
  drained: boolean;
  ejected: boolean;
  standby_connections?: number;
  last_check?: { ok: boolean; status?: number; error?: string; at: string };
}

export interface SiteDetail {
  name: string;
  region?: string;
  zone?: string;
  available: boolean;
  stale: boolean;
  data_age_seconds?: number;
  ready: boolean;
  not_ready: Array<{ code: string; message: string }>;
  backends: BackendDetail[];
}

export interface TenantDetail {
  name: string;
  tier: string;
  rpo_seconds: number;
  rto_seconds: number;
  phase: TenantPhase;
  epoch: number;
  active: string;
  fenced: string[];
  frozen_cause?: string;
  mode: string;
  failback: string;
  reason?: string;
  updated_at?: string;
  hosts: string[];
  sites: SiteDetail[];
  next_scheduled_drill?: string;
  flips?: FlipRecord[];
}

/** GET /drills (src/drill/types.ts DrillListEntry). */
export interface DrillListEntry {
  id: string;
  kind: string;
  tenant?: string;
  region?: string;
  status: string;
  started_at: string;
  ended_at?: string;
  measured_rto_ms?: number;
}
