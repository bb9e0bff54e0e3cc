/**
 * A tenant's edge rules as the data plane applies them: the redirect of plain-HTTP requests to
 * https:// (308) and the Strict-Transport-Security header on answers over TLS. The control plane
 * builds a RouteEdge once per route (failover/routes.ts); a route without edge rules has none,
 * so a tenant without them pays one `undefined` check per request and nothing else.
 *
 * ACME HTTP-01 challenges (/.well-known/acme-challenge/) are never redirected: the CA fetches
 * them over plain HTTP on port 80, and a certificate being issued or renewed for a tenant that
 * redirects would otherwise depend on the CA following a redirect to a certificate that may not
 * exist yet (RFC 8555 §8.3 allows following, Let's Encrypt does, others need not).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { TenantEdgeConfig } from '../config/types.js';
import { hstsHeader } from '../config/edge-section.js';
import { normalizeHost } from './router.js';

export interface RouteEdge {
  /** Plain-HTTP requests get a 308 to https:// (except ACME challenges). */
  readonly redirect: boolean;
  /** ":8443", or "" for 443: appended to the host in the Location. */
  readonly portSuffix: string;
  /** The prebuilt Strict-Transport-Security value, or undefined (none). */
  readonly hsts: string | undefined;
}

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
const STS = 'strict-transport-security';

/** The route's edge rules, or undefined when the tenant has none (the common case). */
export function routeEdge(cfg: TenantEdgeConfig): RouteEdge | undefined {
  if (!cfg.redirect_https && cfg.hsts === undefined) return undefined;
  return Object.freeze({
    redirect: cfg.redirect_https,
    portSuffix: cfg.https_port === 443 ? '' : `:${cfg.https_port}`,
    hsts: cfg.hsts === undefined ? undefined : hstsHeader(cfg.hsts),
  });
}

/** The request came over TLS (a tls.TLSSocket, from a TLS listener). */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/**
 * Where a request must be redirected, or undefined when it is forwarded: only with `redirect`
 * on, only over plain HTTP, never for an ACME challenge. The Host was validated by the router
 * before (a hostile Host never gets here); its port is replaced by https_port.
 */
export function redirectLocation(edge: RouteEdge, req: IncomingMessage): string | undefined {
  if (!edge.redirect || overTls(req)) return undefined;
  const url = req.url!;
  if (url.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
  return `https://${normalizeHost(req.headers.host!)}${edge.portSuffix}${url}`;
}

/**
 * Add the tenant's Strict-Transport-Security to an answer's header list (name, value, ...) when
 * the request came over TLS (RFC 6797 §7.2: never over plain HTTP). The backend's own header, if
 * any, is dropped: a client heeds only the first (§8.1), and the tenant's setting is the policy.
 */
export function addHsts(headers: string[], edge: RouteEdge, req: IncomingMessage): void {
  if (edge.hsts === undefined || !overTls(req)) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.length === STS.length && headers[i]!.toLowerCase() === STS) headers.splice(i, 2);
  }
  headers.push(STS, edge.hsts);
}
