/**
 * WebSocket and other Upgrade requests, proxied with http-proxy-3 (undici's dispatcher does
 * not hand over upgraded sockets to a server-side socket as simply). Upgraded connections are
 * tracked per tenant site so that a drain can close them at its deadline.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Backend } from './backend.js';
import type { TenantRoute } from './route.js';
import { OWN_ERROR_HEADER, upgradeRequestHeaders } from './headers.js';
import { sendSocketError } from './responses.js';

export class UpgradeProxy {
  private readonly proxy = createProxyServer({ ws: true, xfwd: false });
  /** Open upgraded client sockets by "tenant/site". */
  private readonly open = new Map<string, Set<Duplex>>();

  constructor(
    private readonly epochHeader: string,
    private readonly siteHeader: string,
  ) {
    // Errors are answered per call; this keeps an unhandled 'error' event from throwing.
    this.proxy.on('error', () => {});
    // The upstream's answer (its 101, or the answer of a backend that refused the upgrade) is
    // relayed from its parsed headers: drop its copy of drproxy's own error marker first, as
    // downstreamResponseHeaders does. Prepended, so that it runs before http-proxy-3 relays.
    this.proxy.on('proxyReqWs', (proxyReq: ClientRequest) => {
      proxyReq.prependListener('upgrade', dropOwnErrorMarker);
      proxyReq.prependListener('response', dropOwnErrorMarker);
    });
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, route: TenantRoute, backend: Backend): void {
    // http-proxy-3 copies req.headers: give it the same headers a proxied request gets.
    req.headers = upgradeRequestHeaders(req, this.epochHeader, this.siteHeader, route.proxy.preserve_host ? undefined : backend.hostHeader, route.stamp);
    const key = `${route.tenant}/${route.site}`;
    let set = this.open.get(key);
    if (!set) this.open.set(key, (set = new Set()));
    const sockets = set;
    sockets.add(socket);
    backend.outstanding++;
    let counted = true;
    const done = () => {
      sockets.delete(socket);
      if (counted) {
        counted = false;
        backend.outstanding--;
      }
    };
    socket.once('close', done);
    this.proxy.ws(
      req,
      socket,
      head,
      { target: backend.origin, agent: backend.upgradeAgent, proxyTimeout: route.proxy.response_timeout },
      () => {
        done();
        sendSocketError(socket, 'upstream_failed', `could not open the upgraded connection to site ${route.site}`);
      },
    );
  }

  /** Close every upgraded connection to a tenant's site; returns how many were closed. */
  closeSite(tenant: string, site: string): number {
    const set = this.open.get(`${tenant}/${site}`);
    if (!set) return 0;
    const n = set.size;
    for (const s of [...set]) s.destroy();
    this.open.delete(`${tenant}/${site}`);
    return n;
  }

  closeAll(): void {
    for (const set of this.open.values()) for (const s of set) s.destroy();
    this.open.clear();
    this.proxy.close();
  }
}

function dropOwnErrorMarker(res: IncomingMessage): void {
  delete res.headers[OWN_ERROR_HEADER];
}
