/**
 * A tenant's route publisher: the only writer of the tenant's slot, which the data plane reads.
 * It turns the committed state and a health snapshot into the route (serve, hold, unavailable)
 * and keeps standby connections warm to the site a flip would choose. Acknowledgements to the
 * coordinator are the flip runner's and the follower's (stages of an epoch), not the publisher's.
 * While this replica has lost its coordinator (clustered, fail_closed), every route it would
 * publish is replaced by an unavailable one answering DRP_COORDINATOR_LOST.
 */
import type { HeaderNames, TenantConfig } from '../config/types.js';
import type { Backend } from '../proxy/backend.js';
import { TenantSlot, type RouteMode, type TenantRoute } from '../proxy/route.js';
import type { ProxyErrorCode } from '../proxy/responses.js';
import type { TenantState } from '../state/types.js';
import { autoTarget } from './decide.js';
import { buildRoute, sameRoute } from './routes.js';
import type { HealthSnapshot, SiteRuntime } from './site.js';

export class RoutePublisher {
  readonly slot: TenantSlot;
  /** Set while this replica has lost its coordinator: why it does not serve the tenant. */
  private lost: string | undefined;

  constructor(
    private readonly cfg: TenantConfig,
    private readonly headers: HeaderNames,
    private readonly sites: readonly SiteRuntime[],
  ) {
    this.slot = new TenantSlot(cfg.name, this.route('hold', cfg.sites[0]!.name, 0, 'starting'));
  }

  /** Publish the route that `state` and `health` call for, if it differs from the slot's. */
  publish(state: TenantState, health: HealthSnapshot): void {
    const target = state.phase === 'frozen' ? undefined : autoTarget({ state, health, config: this.cfg });
    this.warmStandby(state.active, target === undefined ? undefined : this.sites.find((s) => s.name === target.name));
    if (state.phase === 'frozen') {
      this.setRoute(this.route('unavailable', state.active, state.epoch, `tenant is frozen (${state.frozen_cause ?? 'unknown'}): ${state.reason}`));
      return;
    }
    const site = this.sites.find((s) => s.name === state.active)!;
    const routable = site.routable();
    const mode: RouteMode = routable.length > 0 ? 'serve' : 'hold';
    const reason = mode === 'hold' ? `no healthy backend in site ${site.name}` : '';
    const standby = this.cfg.failover.mode === 'auto' && target !== undefined;
    this.setRoute(this.route(mode, site.name, state.epoch, reason, routable.map((b) => b.backend), standby));
  }

  /** Flip step 2: new requests are held (not failed) until the flip publishes its next route. */
  hold(from: string, to: string, epoch: number): void {
    this.put(this.route('hold', from, epoch, `failing over from ${from} to ${to}`));
  }

  /**
   * Reload: this tenant's slot is replaced by `next` (or the tenant removed). Requests it holds
   * are handed to the successor's route; with no successor they get 503.
   */
  handOver(next: TenantSlot | undefined, state: TenantState): void {
    if (!next) {
      this.put(this.route('unavailable', state.active, state.epoch, 'tenant removed from the config'));
      return;
    }
    this.slot.publish(next.route);
    const off = next.onPublish((r) => this.slot.publish(r));
    setTimeout(off, this.cfg.failover.hold_requests + 1000).unref();
  }

  /**
   * Pre-connected sockets (proxy.standby_connections) to the routable backends of the site a
   * flip would choose now. Every other backend closes its own, except the active site's,
   * which stop being replaced but stay for its pool (the burst right after a flip).
   */
  private warmStandby(active: string, standby: SiteRuntime | undefined): void {
    const n = this.cfg.proxy.standby_connections;
    if (n === 0) return;
    const warm = standby === undefined ? undefined : new Set(standby.routable());
    for (const site of this.sites) {
      for (const b of site.backends) b.backend.setStandby(warm?.has(b) ? n : 0, site.name === active);
    }
  }

  /**
   * This replica lost its coordinator (`why`), or got it back (undefined): while lost, every route
   * published is the unavailable one; the caller publishes the state's route again afterwards.
   */
  coordinatorLost(why: string | undefined, state: TenantState): void {
    this.lost = why;
    if (why !== undefined) this.put(this.route('unavailable', state.active, state.epoch, why));
  }

  get isLost(): boolean {
    return this.lost !== undefined;
  }

  private setRoute(route: TenantRoute): void {
    if (!sameRoute(this.slot.route, route)) this.put(route);
  }

  private put(route: TenantRoute): void {
    if (this.lost !== undefined) {
      const r = this.route('unavailable', route.site, route.epoch, this.lost, [], false, 'DRP_COORDINATOR_LOST');
      if (!sameRoute(this.slot.route, r)) this.slot.publish(r);
      return;
    }
    this.slot.publish(route);
  }

  private route(mode: RouteMode, site: string, epoch: number, reason: string, backends: Backend[] = [], standby = false, refusal?: ProxyErrorCode): TenantRoute {
    return buildRoute(this.cfg, this.headers, mode, site, epoch, reason, backends, standby, refusal);
  }
}
