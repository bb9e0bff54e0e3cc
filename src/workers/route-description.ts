/**
 * A tenant's route as plain data, to cross a thread boundary (issue 23, "Every core: threads" in
 * docs/design.md). A TenantRoute cannot cross as it is: it holds Backends (undici pools, sockets,
 * timers), a Balancer (closures) and a Set. Its description holds only what `structuredClone`
 * copies: strings, numbers, booleans, plain objects and arrays.
 *
 * Backends are not routes' property: a Backend (and its pool) lives as long as its config
 * generation, across many routes, and the data plane compares routes' backends by identity
 * (routes.ts `sameRoute`, drains, warm sockets). So each backend crosses with a numeric `id`
 * naming the main thread's Backend object: the same id rebuilds into the same worker-side Backend
 * (same pool) for every later route; only an id the worker has not seen yet builds a new one
 * (worker-backends.ts). Its config crosses with it so that the description alone is enough.
 */
import type { ProxyConfig, SiteTlsConfig, TenantConfig } from '../config/types.js';
import type { Backend } from '../proxy/backend.js';
import type { TenantRoute } from '../proxy/route.js';
import { createBalancer } from '../proxy/balancer.js';
import { DrProxyError } from '../errors.js';

/** What a worker needs to build its own Backend for one of the main thread's. */
export interface BackendDescription {
  /** The main thread's Backend object (BackendIds): same id, same worker-side Backend and pool. */
  readonly id: number;
  readonly tenant: string;
  readonly site: string;
  readonly name: string;
  readonly url: string;
  readonly origin: string;
  readonly weight: number;
  /** The site's client TLS (PEM strings), for https origins. */
  readonly tls: SiteTlsConfig | undefined;
  /** passive_health as OutlierDetector applies it to the Backend (counting stays in the worker). */
  readonly passive: PassiveDescription;
}

export interface PassiveDescription {
  readonly threshold: number;
  readonly refusedThreshold: number;
  readonly statuses: readonly number[];
  readonly slowAfter: number;
}

/**
 * Everything of a TenantRoute the data plane reads, as plain data: the route's own fields (one
 * definition, route.ts), with backends described instead of live, no balancer (rebuilt from
 * the backends) and retryOn as a list (a Set does not cross as such).
 */
export interface RouteDescription extends Omit<TenantRoute, 'backends' | 'balancer' | 'retryOn'> {
  readonly backends: readonly BackendDescription[];
  readonly retryOn: readonly number[];
}

/** Numbers for the main thread's Backend objects, stable for each object's life. */
export class BackendIds {
  private readonly ids = new WeakMap<Backend, number>();
  private next = 1;

  of(b: Backend): number {
    let id = this.ids.get(b);
    if (id === undefined) this.ids.set(b, (id = this.next++));
    return id;
  }
}

/** The description of `route`, a route of tenant `cfg` built by failover/routes.ts `buildRoute`. */
export function describeRoute(route: TenantRoute, cfg: TenantConfig, ids: BackendIds): RouteDescription {
  return {
    tenant: route.tenant,
    mode: route.mode,
    epoch: route.epoch,
    site: route.site,
    stamp: [...route.stamp],
    backends: route.backends.map((b) => describeBackend(b, cfg, ids)),
    proxy: route.proxy,
    reason: route.reason,
    refusal: route.refusal,
    holdMs: route.holdMs,
    holdMax: route.holdMax,
    standby: route.standby,
    detectMs: route.detectMs,
    retryOn: [...route.retryOn],
    edge: route.edge === undefined ? undefined : { ...route.edge },
  };
}

function describeBackend(b: Backend, cfg: TenantConfig, ids: BackendIds): BackendDescription {
  const site = cfg.sites.find((s) => s.name === b.site);
  const bc = site?.backends.find((x) => x.name === b.name);
  if (site === undefined || bc === undefined) {
    throw new DrProxyError('DRP_INTERNAL', `backend ${b.key} is not in tenant ${cfg.name}'s config: cannot describe it for a worker`);
  }
  const p = cfg.passive_health;
  return {
    id: ids.of(b),
    tenant: b.tenant,
    site: b.site,
    name: bc.name,
    url: bc.url,
    origin: bc.origin,
    weight: bc.weight,
    tls: site.tls === undefined ? undefined : { ...site.tls },
    passive: {
      threshold: p.consecutive_failures,
      refusedThreshold: p.consecutive_refused,
      statuses: [...p.statuses],
      slowAfter: p.consecutive_failures === 0 ? 0 : p.slow_after,
    },
  };
}

/** Where a worker finds (or builds) its own Backend for a described one. */
export interface BackendResolver {
  resolve(d: BackendDescription, proxy: ProxyConfig): Backend;
}

/**
 * The worker's TenantRoute for a description: the same fields as failover/routes.ts `buildRoute`
 * produces, its backends the worker's own, its balancer built over them.
 */
export function rebuildRoute(d: RouteDescription, backends: BackendResolver): TenantRoute {
  const own = Object.freeze(d.backends.map((b) => backends.resolve(b, d.proxy)));
  return Object.freeze({
    tenant: d.tenant,
    mode: d.mode,
    epoch: d.epoch,
    site: d.site,
    stamp: Object.freeze([...d.stamp]),
    backends: own,
    balancer: createBalancer(d.proxy.balance, own),
    proxy: d.proxy,
    reason: d.reason,
    refusal: d.refusal,
    holdMs: d.holdMs,
    holdMax: d.holdMax,
    standby: d.standby,
    detectMs: d.detectMs,
    retryOn: new Set(d.retryOn),
    edge: d.edge === undefined ? undefined : Object.freeze({ ...d.edge }),
  });
}
