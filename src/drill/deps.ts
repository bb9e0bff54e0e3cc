/**
 * What a drill reads and drives, as small interfaces: the tenant (TenantController fits), the
 * audit sink (AuditLog fits, whether its event() returns a reference or nothing), and the
 * service's dependencies given by the composition root (drill/wire.ts).
 */
import type { Config, TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantState } from '../state/types.js';
import type { FlipRecord } from '../failover/flip.js';
import type { FlipRequest } from '../failover/flip-runner.js';
import type { OperatorRequest } from '../failover/operator.js';
import type { HookChecks } from '../failover/readiness.js';
import type { SiteRuntime } from '../failover/site.js';
import type { TenantSlot } from '../proxy/route.js';
import type { AnyDrillReport, AuditRef, DrillReport, DrillRequest, DrillStore } from './types.js';
import type { DrillTarget } from './drill-target.js';

/** The tenant as a drill drives it (TenantController). */
export interface DrillTenant {
  readonly name: string;
  readonly config: TenantConfig;
  readonly state: TenantState;
  readonly sites: readonly SiteRuntime[];
  readonly slot: TenantSlot;
  /** When the last flip was routed (min_interval), 0 before the first. */
  readonly lastFlipAt: number;
  site(name: string): SiteRuntime | undefined;
  failover(req: FlipRequest): Promise<FlipRecord>;
  unfence(site: string, op: OperatorRequest): Promise<TenantState>;
  freeze(cause: 'drill_interrupted', message: string): Promise<TenantState>;
  /** No automatic failback while a drill runs. */
  holdForDrill(on: boolean): void;
  /** The hooks' last `check` answers (the readiness monitor), when there is one. */
  hookChecks?(site: string): HookChecks;
  /** Ask every hook of the tenant for a `check` now (a preflight judges fresh answers). */
  checkHooks?(): Promise<void>;
}

/** Where a drill's audit records go (AuditLog); a chained log answers with a reference. */
export interface DrillAuditSink {
  event(fields: Record<string, unknown>, msg: string): AuditRef | undefined | void;
  /** The chain's last record (hash-chained audit file). */
  head?(): AuditRef | undefined;
  /** The audit file's path, when there is one. */
  readonly file?: string | undefined;
}

export interface DrillServiceDeps {
  tenant(name: string): DrillTenant | undefined;
  store: DrillStore;
  audit: DrillAuditSink;
  config(): Config;
  /** The data plane's listening address (synthetic requests go there), once it listens. */
  dataPlane(): DrillTarget | undefined;
  logger: Logger;
  now?: () => number;
  /** This host (or replica) as reports name it. */
  runner: string;
  /** The readiness monitor's hook answers; default: the tenant's own getter, else none. */
  hookChecks?: (tenant: string, site: string) => HookChecks;
  /** Close a final report (sign it, name the audit chain's head): h-evidence. */
  finish?: (r: DrillReport) => DrillReport;
  /** Clustered: undefined when this replica leads, else the leader's answer to the drill (cluster/drills.ts). */
  forward?: (req: DrillRequest) => Promise<DrillReport> | undefined;
  /** Render a report as Markdown (GET /drills/:id?format=markdown, drproxy drills show --markdown). */
  markdown?: (r: AnyDrillReport) => string;
}
