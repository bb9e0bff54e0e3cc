/**
 * The operator console's server side, as the composition root (drproxy.ts) holds it: the
 * page's files (assets.ts), the change feed of GET /events (change-feed.ts), the snapshot of
 * GET /fleet (summary.ts) and the controller hooks' sink that marks tenants dirty.
 */
import type { Config } from '../config/types.js';
import { DEFAULT_ADMIN_MAX_EVENT_STREAMS } from '../config/defaults.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { FlipRecord } from '../failover/flip.js';
import { HttpError } from '../admin/http-error.js';
import type { FleetSnapshot } from './contract.js';
import { ConsoleAssets, defaultAssetsDir } from './assets.js';
import { ChangeFeed, type FeedLimits } from './change-feed.js';
import { fleetSnapshot, type FleetMeta } from './summary.js';

export interface ConsoleOptions {
  /** Where the page's built files are; dist/console/web/ by default (tests: a fixture). */
  assetsDir?: string;
  /** The feed's tick, ping and slow-client bounds (tests shorten them). */
  feed?: Partial<FeedLimits>;
}

export interface ConsoleHost {
  tenants(): Iterable<TenantController>;
  tenant(name: string): TenantController | undefined;
  config(): Config;
  meta(): FleetMeta;
  now(): number;
}

/** What the controller hooks tell the console (controller-hooks.ts). */
export interface ChangeSink {
  mark(tenant: string): void;
  flip(record: FlipRecord): void;
}

export class ProxyConsole {
  readonly assets: ConsoleAssets;
  readonly feed: ChangeFeed;

  constructor(
    private readonly host: ConsoleHost,
    opts: ConsoleOptions = {},
  ) {
    this.assets = new ConsoleAssets(opts.assetsDir ?? defaultAssetsDir());
    this.feed = new ChangeFeed({ tenants: () => host.tenants(), tenant: (n) => host.tenant(n), snapshot: (now) => this.snapshot(now), now: () => host.now() }, opts.feed);
  }

  get changes(): ChangeSink {
    return this.feed;
  }

  snapshot(now = this.host.now()): FleetSnapshot {
    return fleetSnapshot(this.host.tenants(), this.host.meta(), now);
  }

  /** Throws 503 unless one more SSE stream may open (admin.max_event_streams; not while stopping). */
  admitStream(): void {
    if (this.feed.isClosed) throw new HttpError(503, 'shutting_down', 'drproxy is shutting down');
    const max = this.host.config().admin.max_event_streams ?? DEFAULT_ADMIN_MAX_EVENT_STREAMS;
    if (this.feed.size >= max) {
      throw new HttpError(503, 'too_many_streams', `${max} event streams are open already (admin.max_event_streams); retry later`, {}, { 'retry-after': '5' });
    }
  }

  /** A reload: removed tenants go out as `removed`, rebuilt and new ones as changed. */
  reloaded(r: { added: readonly string[]; removed: readonly string[]; changed: readonly string[] }): void {
    this.feed.gone(r.removed);
    for (const n of [...r.added, ...r.changed]) this.feed.mark(n);
  }

  /** Ends every open stream (shutdown: drproxy's stop must not wait on them). */
  close(): void {
    this.feed.close();
  }
}
