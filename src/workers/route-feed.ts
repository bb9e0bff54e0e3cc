/**
 * The main thread's side of route publication in threaded mode: every controller's TenantSlot
 * stays the control plane's publication point (route-publisher.ts does not change); this feed
 * subscribes to each slot and posts each new route's description to every worker, and builds
 * the full set a (re)started worker gets before it listens. It also maps the Backend ids in
 * those descriptions back to the main thread's Backends, for the workers' passive-health trips.
 */
import type { TenantConfig } from '../config/types.js';
import type { Backend } from '../proxy/backend.js';
import type { TenantRoute, TenantSlot } from '../proxy/route.js';
import { TenantTraffic } from '../metrics/traffic.js';
import { BackendIds, describeBackend, describeRoute, type RouteDescription } from './route-description.js';
import type { AckRequest, StandbyOrder, TableEntry, ToWorker } from './messages.js';
import type { PassiveTrip } from './worker-backends.js';
import { mark } from '../trace-marks.js';

interface Fed {
  readonly cfg: TenantConfig;
  readonly slot: TenantSlot;
  readonly off: () => void;
}

/** A tenant's controller as the feed reads it: its slot, and its sites' Backends (warm standby). */
export interface FedTenant {
  readonly slot: TenantSlot;
  readonly sites: ReadonlyArray<{ readonly backends: ReadonlyArray<{ readonly backend: Backend }> }>;
  /** Publish again (TenantController.evaluate: cheap, idempotent): the standby orders go out. */
  evaluate(): void;
}

export class RouteFeed {
  private readonly ids = new BackendIds();
  /** Main-thread Backends by id: the Backends of every route described so far. */
  private readonly backends = new Map<number, Backend>();
  private readonly fed = new Map<string, Fed>();
  /** The last standby order per Backend id. */
  private readonly standby = new Map<number, StandbyOrder>();

  constructor(
    private readonly post: (m: ToWorker) => void,
    /** The workers' warm sockets of a backend id, summed (worker-warm.ts). */
    private readonly warm: (id: number) => { idle: number; taken: number } = () => ({ idle: 0, taken: 0 }),
  ) {}

  /** Feed a tenant's controller (new, or rebuilt by a reload) to the workers. */
  attach(cfg: TenantConfig, tenant: FedTenant): void {
    const { slot } = tenant;
    const was = this.fed.get(cfg.name);
    if (was?.slot === slot && was.cfg === cfg) return;
    was?.off();
    const off = slot.onPublish((route) => {
      mark('route-posted', route.mode);
      this.post({ type: 'route', description: this.describe(route, cfg) });
    });
    this.fed.set(cfg.name, { cfg, slot, off });
    if (cfg.proxy.standby_connections === 0) {
      for (const s of tenant.sites) for (const { backend } of s.backends) this.forwardPreconnect(backend, cfg);
      return;
    }
    for (const s of tenant.sites) for (const { backend } of s.backends) this.forwardStandby(backend, cfg);
    // The controller published (and set its standby) before it was attached: once more, forwarded.
    tenant.evaluate();
  }

  /**
   * Warm standby sockets belong in the workers, whose pools take them after a flip: the route
   * publisher's Backend.setStandby calls on the main thread's Backends (which serve nothing) are
   * forwarded, each change once, and remembered for a (re)started worker's full set.
   */
  private forwardStandby(b: Backend, cfg: TenantConfig): void {
    const backend = describeBackend(b, cfg, this.ids);
    this.backends.set(backend.id, b);
    b.setStandby(0); // what the main thread opened before it was attached
    // What status reads of this Backend's warm sockets (tenant-status.ts): the workers'.
    Object.defineProperty(b, 'standbySockets', { configurable: true, get: () => this.warm(backend.id) });
    b.setStandby = (n: number, keepIdle = false): void => {
      const last = this.standby.get(backend.id);
      if (last !== undefined && last.n === n && last.keepIdle === keepIdle) return;
      const order: StandbyOrder = { backend, proxy: cfg.proxy, n, keepIdle };
      this.standby.set(backend.id, order);
      this.post({ type: 'standby', ...order });
    };
  }

  /**
   * A flip's pre-connect (failover/preconnect.ts) opens sockets for the held requests while the
   * epoch is persisted: they must be opened where those requests go, in every worker.
   */
  private forwardPreconnect(b: Backend, cfg: TenantConfig): void {
    b.preconnect = (n: number): void => {
      const backend = describeBackend(b, cfg, this.ids);
      this.backends.set(backend.id, b);
      this.post({ type: 'preconnect', backend, proxy: cfg.proxy, n });
    };
  }

  tenants(): string[] {
    return [...this.fed.keys()];
  }

  /** A tenant left the config: its slot is no longer fed (its last route was sent). */
  detach(tenant: string): void {
    this.fed.get(tenant)?.off();
    this.fed.delete(tenant);
  }

  /** The tenant's current route on the main thread (the one the workers were last sent). */
  route(tenant: string): TenantRoute | undefined {
    return this.fed.get(tenant)?.slot.route;
  }

  /** The tenant's request accounting on the main thread (what /metrics renders), if fed. */
  traffic(tenant: string): TenantTraffic | undefined {
    const o = this.fed.get(tenant)?.slot.observer;
    return o instanceof TenantTraffic ? o : undefined;
  }

  config(tenant: string): TenantConfig | undefined {
    return this.fed.get(tenant)?.cfg;
  }

  /** The full set: table, every route, the acknowledgements waited for now. */
  snapshot(acks: AckRequest[]): ToWorker {
    const table: TableEntry[] = [];
    const routes: RouteDescription[] = [];
    for (const { cfg, slot } of this.fed.values()) {
      table.push({ tenant: cfg.name, hosts: cfg.hosts, paths: cfg.paths });
      routes.push(this.describe(slot.route, cfg));
    }
    return { type: 'routes', table, routes, acks, standby: [...this.standby.values()].filter((o) => o.n > 0) };
  }

  /**
   * A worker's passive-health trip, given to the main thread's Backend as if its own data plane
   * had counted the streak: its OutlierDetector reads the counts and acts on a later turn.
   */
  trip(t: PassiveTrip): void {
    const b = this.backends.get(t.id);
    if (b === undefined || b.onPassiveTrip === undefined) return;
    b.passiveFailures = t.failures;
    b.passiveRefused = t.refused;
    b.passiveSince = t.since;
    b.onPassiveTrip(b, t.kind);
  }

  /** Forget Backends no route uses any more (a reload retired them); their ids, for the workers. */
  retire(gone: readonly Backend[]): number[] {
    const ids: number[] = [];
    for (const b of gone) {
      const id = this.ids.of(b);
      this.standby.delete(id);
      if (this.backends.delete(id)) ids.push(id);
    }
    return ids;
  }

  private describe(route: TenantRoute, cfg: TenantConfig): RouteDescription {
    const d = describeRoute(route, cfg, this.ids);
    for (let i = 0; i < d.backends.length; i++) this.backends.set(d.backends[i]!.id, route.backends[i]!);
    return d;
  }
}
