/**
 * The immutable routes a tenant's controller publishes for the data plane (proxy/route.ts), and
 * the comparison that keeps it from publishing a route equal to the current one.
 */
import type { HeaderNames, TenantConfig } from '../config/types.js';
import type { Backend } from '../proxy/backend.js';
import { createBalancer } from '../proxy/balancer.js';
import type { RouteMode, TenantRoute } from '../proxy/route.js';
import type { ProxyErrorCode } from '../proxy/responses.js';
import { routeEdge } from '../proxy/edge.js';

export function buildRoute(cfg: TenantConfig, headers: HeaderNames, mode: RouteMode, site: string, epoch: number, reason: string, backends: Backend[], standby: boolean, refusal: ProxyErrorCode = 'tenant_unavailable'): TenantRoute {
  const hc = cfg.sites.find((s) => s.name === site)?.health_check ?? cfg.sites[0]!.health_check;
  return Object.freeze({
    tenant: cfg.name,
    mode,
    epoch,
    site,
    stamp: Object.freeze([headers.epoch, String(epoch), headers.site, site]),
    backends: Object.freeze(backends),
    balancer: createBalancer(cfg.proxy.balance, backends),
    proxy: cfg.proxy,
    reason,
    refusal,
    holdMs: cfg.failover.hold_requests,
    holdMax: cfg.failover.hold_max,
    standby,
    detectMs: Math.min(cfg.failover.hold_requests, hc.interval + hc.fast_interval * (hc.fall - 1) + hc.timeout + 200),
    retryOn: new Set(cfg.proxy.retry_on),
    edge: routeEdge(cfg.edge),
  });
}

/** Same mode, epoch, site, reason, standby and backends: publishing `b` over `a` would change nothing. */
export function sameRoute(a: TenantRoute, b: TenantRoute): boolean {
  if (a.mode !== b.mode || a.epoch !== b.epoch || a.site !== b.site || a.reason !== b.reason || a.refusal !== b.refusal || a.standby !== b.standby) return false;
  if (a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.backends.length; i++) if (a.backends[i] !== b.backends[i]) return false;
  return true;
}
