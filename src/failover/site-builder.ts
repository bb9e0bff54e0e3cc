/**
 * A tenant's site as its controller runs it: one Backend (data plane) per configured backend,
 * its shared active health check, and the site's outlier detectors (passive health), whose
 * reports come from the data plane and are acted on a later turn.
 */
import type { TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { CheckResult } from '../health/active-check.js';
import type { HealthState } from '../health/hysteresis.js';
import { newEjectable } from '../health/outlier.js';
import type { OutlierDetector } from '../health/outlier-detector.js';
import { loopScheduler, SiteOutlierDetector } from '../health/site-outlier-detector.js';
import { Backend } from '../proxy/backend.js';
import type { ControllerDeps } from './controller-deps.js';
import { SiteRuntime, type BackendRuntime } from './site.js';

export interface SiteOwner {
  readonly tenant: TenantConfig;
  readonly log: Logger;
  readonly now: () => number;
  readonly deps: ControllerDeps;
  /** Whether passive health may act now (not stopped, not paused by a reload, initialised). */
  accepting(): boolean;
  /** Something changed: decide again. */
  evaluate(): void;
  /** A probe result of one of the site's backends. */
  onHealth(site: string, outlier: OutlierDetector, result: CheckResult, state: HealthState, changed: boolean): void;
}

export function buildSite(o: SiteOwner, cfg: TenantConfig['sites'][number]): { site: SiteRuntime; outliers: SiteOutlierDetector } {
  const outliers = new SiteOutlierDetector({
    tenant: o.tenant.name,
    site: cfg.name,
    config: o.tenant.passive_health,
    log: o.log,
    scheduler: loopScheduler(o.now),
    accepting: () => o.accepting(),
    onChange: () => o.evaluate(),
    events: o.deps.hooks,
  });
  const backends: BackendRuntime[] = cfg.backends.map((bc) => {
    const runtime: BackendRuntime = {
      backend: new Backend(o.tenant.name, cfg.name, bc, o.tenant.proxy, o.now, cfg.tls),
      drained: false,
      confirming: false,
      passive: newEjectable(),
      ejectedSince: 0,
      health: o.deps.health.acquire(bc.origin, cfg.health_check, {
        onResult: (result, state, changed) => o.onHealth(cfg.name, outlier, result, state, changed),
        everyResult: o.deps.hooks?.onCheck !== undefined,
      }, cfg.tls),
    };
    const outlier = outliers.add(runtime);
    return runtime;
  });
  return { site: new SiteRuntime(cfg, backends), outliers };
}
