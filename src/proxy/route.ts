/**
 * The routing snapshot, the only thing the data plane reads. A RouteTable (host and path →
 * tenant slot) is built once per config generation; each TenantSlot holds the tenant's current
 * TenantRoute, an immutable object that the control plane replaces as a whole whenever the
 * tenant's epoch, site or set of routable backends changes. A request reads `slot.route` once
 * and uses that object to the end, so it never sees half of a change.
 */
import type { ProxyConfig } from '../config/types.js';
import type { Backend } from './backend.js';
import type { Balancer } from './balancer.js';
import type { ProxyErrorCode } from './responses.js';
import type { RouteEdge } from './edge.js';

/**
 * serve: forward to `backends`. hold: keep new requests waiting (the tenant is flipping, or its
 * active site has no routable backend yet). unavailable: answer 503 at once (frozen tenant).
 */
export type RouteMode = 'serve' | 'hold' | 'unavailable';

export interface TenantRoute {
  readonly tenant: string;
  readonly mode: RouteMode;
  readonly epoch: number;
  readonly site: string;
  /** Header name/value pairs stamped on every upstream request: epoch and site. */
  readonly stamp: readonly string[];
  readonly backends: readonly Backend[];
  readonly balancer: Balancer;
  readonly proxy: ProxyConfig;
  /** Why requests are held or refused, for logs and the 503 body. */
  readonly reason: string;
  /** What an unavailable route answers with (x-drproxy-error): tenant_unavailable, or DRP_COORDINATOR_LOST. */
  readonly refusal: ProxyErrorCode;
  /** Held requests wait at most this long (ms)... */
  readonly holdMs: number;
  /** ...and at most this many wait at once. */
  readonly holdMax: number;
  /**
   * Another site could take over if the active one fails (automatic mode, an available,
   * unfenced, fresh site exists): a request whose only backend failed waits for the flip.
   */
  readonly standby: boolean;
  /**
   * How long such a request waits for the flip: the time in which the control plane would have
   * detected the site as down. If no flip came by then, the site is not down after all.
   */
  readonly detectMs: number;
  /** Upstream statuses retried for idempotent requests (proxy.retry_on). */
  readonly retryOn: ReadonlySet<number>;
  /** redirect_https and HSTS (edge.ts); undefined for a tenant without them: one check per request. */
  readonly edge: RouteEdge | undefined;
}

/** Where the data plane reports what happened to each request (metrics). */
export interface RequestObserver {
  done(status: number, seconds: number): void;
  retry(kind: string): void;
  held: number;
}

/** Requests and retries in flight for one tenant: the retry budget's inputs. */
export interface TenantLoad {
  inflight: number;
  retrying: number;
}

export interface RouteListener {
  (route: TenantRoute): void;
}

/** One tenant's publication point: the data plane reads `route`, the control plane replaces it. */
export class TenantSlot {
  private current: TenantRoute;
  private readonly listeners = new Set<RouteListener>();
  readonly load: TenantLoad = { inflight: 0, retrying: 0 };
  /** Set by the composition root; the data plane reports each request's outcome here. */
  observer: RequestObserver | undefined;

  constructor(
    readonly tenant: string,
    initial: TenantRoute,
  ) {
    this.current = initial;
  }

  get route(): TenantRoute {
    return this.current;
  }

  publish(route: TenantRoute): void {
    this.current = route;
    for (const l of this.listeners) l(route);
  }

  /** Data-plane helpers (held requests) subscribe to learn when a route is published. */
  onPublish(listener: RouteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
