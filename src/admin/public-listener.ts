/**
 * admin.public_listen (issue 17, item 12): a second listener of the admin server for what must
 * be reachable from outside the host or pod (kubelet probes, Prometheus), apart from what must
 * stay protected (status, tenants, every mutation), which keeps to admin.listen (loopback by
 * default).
 *
 * It answers GET (and HEAD) /healthz, /readyz and /metrics, /metrics under admin.metrics_auth
 * as on the admin listener; any other method or path gets 404 with a JSON body, so that
 * nothing tells a scanner which admin routes exist. Every request goes through the admin
 * server's own pipeline (server.ts): the same rate-limit buckets (a client cannot double its
 * budget by using both listeners), the same refusal audit and counters. The Host check allows
 * IP literals (what kubelet and Prometheus send), localhost, the listener's own host name and
 * admin.allowed_hosts. Connections have a guard of their own with the admin caps
 * (admin.max_connections, _per_client): a flood on the public port cannot take the admin
 * listener's connections, which an operator needs most during an incident. Both guards are
 * summed in drproxy_admin_connections_*.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig, ListenAddress } from '../config/types.js';
import { ADMIN_REQUEST_TIMEOUT } from '../config/defaults.js';
import type { Logger } from '../log.js';
import { listen } from '../listen.js';
import { ConnectionGuard } from '../proxy/connection-guard.js';
import { HostCheck } from './host-check.js';
import type { Route } from './routes.js';

/** The admin actions the public listener serves. */
export const PUBLIC_ACTIONS: ReadonlySet<string> = new Set(['healthz', 'readyz', 'metrics']);

/** The 404 detail of everything else on the public listener. */
export const PUBLIC_NOT_FOUND = 'the public admin listener (admin.public_listen) serves only GET /healthz, /readyz and /metrics; use admin.listen for the rest';

type Handler = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => void;

/** Node HTTP server options of both admin listeners. */
export function adminServerOptions(cfg: AdminConfig): http.ServerOptions {
  return {
    headersTimeout: cfg.headers_timeout,
    requestTimeout: ADMIN_REQUEST_TIMEOUT,
    maxHeaderSize: 16 * 1024,
    // Node checks the headers deadline only this often (default 30 s): a silent socket
    // would otherwise live up to headers_timeout + 30 s. As the data plane does.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(cfg.headers_timeout / 4))),
  };
}

/** A matched route as the public listener sees it: any route but the public ones is no route. */
export function publicOnly<M extends { route?: Route; params: string[]; methodMismatch: boolean; badEscape: boolean }>(m: M): M {
  if (m.route && PUBLIC_ACTIONS.has(m.route.action)) return m;
  return { ...m, route: undefined, params: [], methodMismatch: false, badEscape: false };
}

export class PublicListener {
  readonly server: http.Server;
  readonly connections: ConnectionGuard;
  hosts: HostCheck;

  constructor(
    cfg: AdminConfig,
    readonly where: ListenAddress,
    log: Logger,
    handler: Handler,
  ) {
    this.hosts = new HostCheck(cfg.allowed_hosts, where.host);
    this.server = http.createServer(adminServerOptions(cfg), (req, res) => handler(req, res, false));
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handler(req, res, true));
    this.connections = new ConnectionGuard(this.server, cfg, log, { listener: 'admin (public)' });
  }

  /** A reloaded admin section: its Host allow-list (the address itself needs a restart). */
  setConfig(cfg: AdminConfig): void {
    this.hosts = new HostCheck(cfg.allowed_hosts, this.where.host);
  }

  listen(): Promise<AddressInfo> {
    return listen(this.server, this.where.host, this.where.port, 'admin.public_listen');
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** What metrics read of a connection guard (metrics.ts ConnectionCounts). */
interface Counts {
  readonly open: number;
  readonly cap: number;
  readonly refused: Readonly<Record<string, number>>;
}

/** Both admin listeners' connection counts, summed at each read (drproxy_admin_connections_*). */
export function summedCounts(a: Counts, b: Counts | undefined): Counts {
  if (!b) return a;
  return {
    get open() {
      return a.open + b.open;
    },
    get cap() {
      return a.cap + b.cap;
    },
    get refused() {
      const sum: Record<string, number> = { ...a.refused };
      for (const [k, n] of Object.entries(b.refused)) sum[k] = (sum[k] ?? 0) + n;
      return sum;
    },
  };
}
