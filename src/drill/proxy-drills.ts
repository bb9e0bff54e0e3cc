/**
 * Everything drills need from one proxy, wired in one place so that the composition root
 * (drproxy.ts) stays a few lines: the signing key (read at start-up and at each reload), the
 * evidence hooks, the drill service and its store, scheduled and region drills, the recovery
 * of interrupted drills (at start-up, or clustered when this replica starts leading), and the
 * order of their stop.
 */
import type { DrillTarget } from './drill-target.js';
import type { Config, ConfigProblem } from '../config/types.js';
import type { Logger } from '../log.js';
import type { AuditLog } from '../admin/audit.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { ClusterReplica } from '../cluster/replica.js';
import { clusterDrillOptions, followLeadership, forwardRegionDrill } from '../cluster/drills.js';
import type { DrillMetrics } from '../metrics/drills.js';
import { loadSigningKey } from '../evidence/keys.js';
import type { SigningKey } from '../evidence/signature.js';
import { evidenceHooks, type EvidenceHooks } from '../evidence/drill-hooks.js';
import { wireDrills, type DrillOptions } from './wire.js';
import type { DrillService } from './service.js';
import type { AnyDrillReport, DrillStore } from './types.js';
import { observedStore } from './observed-store.js';
import { FleetDrills } from './wire-fleet.js';
import type { RegionDrills } from './region.js';

export interface ProxyDrillsHost {
  config(): Config;
  tenant(name: string): TenantController | undefined;
  tenants(): Iterable<TenantController>;
  audit: AuditLog;
  dataPlane(): DrillTarget | undefined;
  logger: Logger;
  now: () => number;
  metrics: DrillMetrics;
  cluster: ClusterReplica | undefined;
  /** Told of every drill report that reaches its final status (notifications: drill_passed / drill_failed). */
  onDrillFinal?: (r: AnyDrillReport) => void;
}

export class ProxyDrills {
  /** drills.signing_key_file, loaded at start-up and at each reload (src/evidence/keys.ts). */
  private signingKey: SigningKey | undefined;
  /** Drills (service.ts); undefined without a store for their reports. */
  service: DrillService | undefined;
  /** Scheduled drills (drills.schedules) and region drills (wire-fleet.ts). */
  fleet: FleetDrills | undefined;

  /** A key that cannot be used stops start-up (DRP_SIGNING_KEY) rather than leave reports unsigned. */
  constructor(private readonly h: ProxyDrillsHost) {
    const file = h.config().drills.signing_key_file;
    this.signingKey = file === undefined ? undefined : loadSigningKey(file);
  }

  /** Sign and close drill reports, render them as Markdown (the drill service's finish and markdown hooks). */
  evidence(): EvidenceHooks {
    return evidenceHooks({ key: () => this.signingKey, auditHead: () => this.h.audit.head() });
  }

  /** Once the data plane listens: the service, then the schedules and region drills that drive it. */
  async start(opts: DrillOptions | undefined): Promise<void> {
    const h = this.h;
    let drillStore: DrillStore | undefined;
    const observe = (s: DrillStore): DrillStore => (drillStore = observedStore(s, (r) => (h.metrics.finished(r), h.onDrillFinal?.(r)), () => this.fleet?.regions.stop() ?? Promise.resolve()));
    // Reports are closed (chain head, signature) and rendered by the evidence hooks unless a test gives its own.
    const hooks = { ...this.evidence(), ...opts, ...(h.cluster && clusterDrillOptions(h.cluster)) };
    const service = (this.service = wireDrills({ config: h.config, tenant: h.tenant, audit: h.audit, dataPlane: h.dataPlane, logger: h.logger, now: h.now, observe }, hooks));
    if (!service || !drillStore) return;
    const leading = (): boolean => h.cluster?.coordinator.mayDecide() ?? true;
    this.fleet = await FleetDrills.start({
      ...{ config: h.config, tenant: h.tenant, tenants: h.tenants, service, store: drillStore, leading, now: h.now, logger: h.logger, metrics: h.metrics },
      audit: (f, m) => h.audit.event(f, m),
      finish: this.evidence().finish,
      ...(opts?.hookChecks && { hookChecks: opts.hookChecks }),
      ...(h.cluster && { forwardRegion: (req) => forwardRegionDrill(h.cluster!, req), runner: h.cluster.coordinator.replicaId }),
    });
  }

  /** Drills a killed process left running: now (embedded), or whenever this replica starts leading. */
  recover(): void {
    const { cluster, logger } = this.h;
    if (cluster && this.service) followLeadership(cluster, this.service, logger, this.fleet?.regions);
    else this.service?.recoverInterrupted().catch((err: unknown) => logger.error({ alert: true, err }, 'could not recover interrupted drills'));
  }

  /** A reload's new key, read again (key rotation); a problem refuses the reload. */
  readKey(next: Config): { key: SigningKey | undefined } | { problem: ConfigProblem; detail: string } {
    try {
      return { key: next.drills.signing_key_file === undefined ? undefined : loadSigningKey(next.drills.signing_key_file) };
    } catch (err) {
      const message = (err as Error).message.replace(/^drills\.signing_key_file: /, '');
      return { problem: { path: 'drills.signing_key_file', message, severity: 'error' }, detail: (err as Error).message };
    }
  }

  /** The reload went through: its key, its schedules, its tenants' drill metrics. */
  reloaded(key: SigningKey | undefined, tenants: Config['tenants']): void {
    this.signingKey = key;
    this.fleet?.reload(this.h.metrics.configure(tenants));
  }

  get regions(): RegionDrills | undefined {
    return this.fleet?.regions;
  }

  nextOf(tenant: string): number | undefined {
    return this.fleet?.scheduler.nextOf(tenant);
  }

  /** Running drills fail back while the data plane still serves (region drills end before the store closes). */
  async stop(): Promise<void> {
    this.fleet?.scheduler.stop();
    await this.service?.stop();
  }
}
