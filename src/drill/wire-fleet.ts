/**
 * Scheduled and region drills wired to the proxy (kept out of the composition root): the
 * scheduler drives DrillService with engine's preflight first (a refused scheduled drill is
 * stored as `skipped`, not `refused`), and region drills share the service's report store.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { HookChecks } from '../failover/readiness.js';
import { realScheduler, type Scheduler } from '../failover/scheduler.js';
import type { DrillService } from './service.js';
import { preflight } from './preflight.js';
import { alertsFiring } from './alerts-firing.js';
import { skippedReport } from './skipped.js';
import { DrillScheduler } from './scheduler.js';
import { RegionDrills, type RegionDrillRequest } from './region.js';
import type { AnyDrillReport, AuditRef, DrillStore, RegionDrillReport } from './types.js';
import type { DrillMetrics } from '../metrics/drills.js';

export interface FleetDrillHost {
  config(): Config;
  tenant(name: string): TenantController | undefined;
  tenants(): Iterable<TenantController>;
  service: DrillService;
  store: DrillStore;
  audit: (fields: Record<string, unknown>, msg: string) => AuditRef | undefined | void;
  /** This replica may start drills (the leader, clustered). */
  leading: () => boolean;
  now: () => number;
  logger: Logger;
  hookChecks?: (tenant: string, site: string) => HookChecks;
  timers?: Scheduler;
  /** Closes a final report (audit chain head, signature: src/evidence/drill-hooks.ts). */
  finish?: <T extends AnyDrillReport>(report: T) => T;
  /** Clustered: region drills asked of a follower go to the leader (cluster/drills.ts), whose recovery follows leadership. */
  forwardRegion?: (req: RegionDrillRequest) => Promise<RegionDrillReport> | undefined;
  /** Who runs region drills here (clustered: the replica id, as tenant drills name it); the host name by default. */
  runner?: string;
}

/** Time for every site's first health results: the slowest check's rise, plus a margin, at most a minute. */
export function healthSettleMs(cfg: Config): number {
  let ms = 0;
  for (const t of cfg.tenants) for (const s of t.sites) ms = Math.max(ms, s.health_check.interval * (s.health_check.rise + 1) + s.health_check.timeout);
  return Math.min(ms, 60_000);
}

export function wireFleetDrills(h: FleetDrillHost): { scheduler: DrillScheduler; regions: RegionDrills } {
  const log = h.logger.child({ component: 'drill' });
  const hooks = (t: TenantController, site: string): HookChecks => h.hookChecks?.(t.name, site) ?? {};
  const scheduler = new DrillScheduler({
    config: () => h.config(),
    store: h.store,
    service: {
      preflight: (req) => {
        const t = h.tenant(req.tenant);
        if (!t) return Promise.resolve([{ code: 'unknown_tenant', message: `no tenant ${req.tenant}` }]);
        return Promise.resolve(preflight({ tenant: t, to: req.to, running: h.service.isRunning(t.name), hooks: (s) => hooks(t, s), now: h.now() }).reasons);
      },
      run: async (req) => h.service.done((await h.service.start(req)).id),
    },
    alerts: (tenant) => {
      const t = h.tenant(tenant);
      return t ? alertsFiring(t, h.now(), h.hookChecks) : [];
    },
    skipped: (req, reasons) => {
      const t = h.tenant(req.tenant);
      if (!t) return undefined;
      const r = skippedReport({ req, reasons, tier: t.config.tier, from: t.state.active, epoch: t.state.epoch, now: h.now(), dwellMs: req.dwell ?? h.config().drills.dwell });
      const ref = h.audit({ event: 'drill', drill: r.id, tenant: t.name, step: 'schedule', result: 'skipped', reasons: reasons.map((x) => x.code), actor: req.actor, reason: req.reason }, `scheduled drill ${r.id} of ${t.name} skipped: ${reasons.map((x) => x.message).join('; ')}`);
      if (ref) r.audit.records.push(ref);
      return h.finish ? h.finish(r) : r;
    },
    leading: h.leading,
    now: h.now,
    timers: h.timers ?? realScheduler,
    log,
  });
  const regions = new RegionDrills({
    service: h.service,
    store: h.store,
    tenants: () => h.tenants(),
    defaults: () => ({ parallel: h.config().drills.parallel, dwell: h.config().drills.dwell }),
    audit: h.audit,
    now: h.now,
    log,
    ...(h.finish && { finish: h.finish }),
    ...(h.forwardRegion && { forward: h.forwardRegion }),
    ...(h.runner !== undefined && { runner: h.runner }),
  });
  return { scheduler, regions };
}

/** Scheduled and region drills of one proxy, started once its drill service is up. */
export class FleetDrills {
  private constructor(
    readonly scheduler: DrillScheduler,
    readonly regions: RegionDrills,
    private readonly store: DrillStore,
    private readonly metrics: DrillMetrics,
    private readonly log: Logger,
  ) {}

  /** Wire them, read the last passed drills back (metrics), recover interrupted region drills, start the schedules. */
  static async start(h: FleetDrillHost & { metrics: DrillMetrics }): Promise<FleetDrills> {
    const { scheduler, regions } = wireFleetDrills(h);
    const f = new FleetDrills(scheduler, regions, h.store, h.metrics, h.logger);
    await h.metrics.load(h.store).catch((err: unknown) => h.logger.error({ err }, 'drill metrics: could not read the last passed drills from the store'));
    // Clustered, a follower must not mark the leader's region drill interrupted: recovery follows leadership.
    if (!h.forwardRegion) await regions.recoverInterrupted().catch((err: unknown) => h.logger.error({ err }, 'could not recover interrupted region drills'));
    scheduler.start(healthSettleMs(h.config()));
    return f;
  }

  /** A reload: schedules follow the new config; tenants it added get their last success read back. */
  reload(added: readonly string[]): void {
    this.scheduler.reload();
    if (added.length > 0) void this.metrics.load(this.store, added).catch((err: unknown) => this.log.error({ err }, 'drill metrics: could not read the last passed drills from the store'));
  }
}
