/**
 * Flip steps 2-3 in a data-plane worker: drain the worker's own calls to the old site
 * (failover/drain.ts on its own Backends) as the inline flip runner does, including what waits
 * until the new route is out: destroying pools whose every call was re-sent, and closing idle
 * ones RETIRED_POOL_GRACE_MS later (not in the same turn as the new site's first requests).
 * Inline the flip runner runs that work once it publishes the new route (or the flip ends);
 * here it runs when the worker applies the tenant's next route other than the hold it drained
 * under (a new site, a stay, a freeze), at the tenant's next drain, or at shutdown.
 */
import { drainSite, type DrainResult, type UpgradeRegistry } from '../failover/drain.js';
import type { SiteRuntime } from '../failover/site.js';
import type { Backend } from '../proxy/backend.js';

interface Later {
  readonly epoch: number;
  readonly work: Array<() => void>;
}

export class WorkerDrains {
  private readonly later = new Map<string, Later>();

  constructor(private readonly upgrades: UpgradeRegistry) {}

  /** Drain the worker's Backends of `site` (the hold route of `epoch` is already applied). */
  async drain(tenant: string, epoch: number, site: string, backends: readonly Backend[], deadlineMs: number): Promise<DrainResult> {
    this.release(tenant);
    const work: Array<() => void> = [];
    this.later.set(tenant, { epoch, work });
    // drainSite reads only the site's name and its backends' Backend objects.
    const runtime = { name: site, backends: backends.map((backend) => ({ backend })) } as unknown as SiteRuntime;
    return drainSite(tenant, runtime, deadlineMs, this.upgrades, work);
  }

  /** The worker applied a route of the tenant: past the hold of the drain, the deferred work runs. */
  routed(tenant: string, mode: string, epoch: number): void {
    const l = this.later.get(tenant);
    if (l === undefined || (mode === 'hold' && epoch === l.epoch)) return;
    this.release(tenant);
  }

  /** Everything deferred, now (shutdown). */
  releaseAll(): void {
    for (const tenant of [...this.later.keys()]) this.release(tenant);
  }

  /** As the flip runner's afterRoute: on the next turn, after the released held requests went out. */
  private release(tenant: string): void {
    const l = this.later.get(tenant);
    if (l === undefined) return;
    this.later.delete(tenant);
    if (l.work.length > 0) setImmediate(() => l.work.forEach((w) => w()));
  }
}
