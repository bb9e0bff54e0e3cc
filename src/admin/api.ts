/** What the admin server needs from the proxy (implemented by DrProxy). */
import type { ConfigProblem } from '../config/types.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { ClusterRole } from './forwarded-audit.js';
import type { DrillService } from '../drill/service.js';
import type { RegionDrills } from '../drill/region.js';
import type { ProxySafety } from '../safety/proxy-safety.js';

export type ReloadResult =
  | { ok: true; tenants: number; added: string[]; removed: string[]; changed: string[]; warnings: ConfigProblem[] }
  | { ok: false; detail: string; problems: ConfigProblem[] };

export interface AdminApi {
  tenant(name: string): TenantController | undefined;
  status(): unknown;
  tenantStatus(name: string, withFlips: boolean): unknown;
  ready(): { ready: boolean; reasons: string[] };
  reload(): Promise<ReloadResult>;
  metricsText(): Promise<string>;
  metricsContentType(): string;
  /** Clustered mode: this replica and the leader it knows (undefined in single-process mode). */
  clusterRole?(): ClusterRole | undefined;
  /** Drills (POST /tenants/:t/drills, GET /drills): undefined when this proxy has none. */
  drillService?(): DrillService | undefined;
  /** Region drills (POST /drills): undefined when this proxy has no drills. */
  regionDrillService?(): RegionDrills | undefined;
  /** Safety rules (kill switch, fleet breaker: src/safety/); undefined when not wired. */
  safety?(): ProxySafety | undefined;
  /** Notifications (POST /notify/test); undefined: none on this proxy. */
  notifierService?(): import('../notify/notifier.js').NotifyService | undefined;
  /** Two-person approval requests (clustered: in etcd, shared by every replica); undefined: in this process's memory. */
  approvalStore?(onExpire: (a: import('./approvals.js').Approval) => void): import('./approvals.js').ApprovalStore | undefined;
  /** The audit trail (GET /audit reads `filePath` back: admin/audit-routes.ts). */
  readonly audit?: { readonly filePath: string | undefined };
  /** The operator console (GET /, /console/*, /fleet, /events: src/console/); undefined: none. */
  console?(): import('../console/wire.js').ProxyConsole | undefined;
}
