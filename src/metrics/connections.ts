/**
 * Client connections of the data-plane and admin listeners (their ConnectionGuard's plain
 * counts, one increment per connection), read at each scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { proxyProtocolRefused } from '../proxy/proxy-header-reader.js';

/** The counts of one listener's ConnectionGuard. */
export interface ConnectionCounts {
  readonly open: number;
  readonly cap: number;
  readonly refused: Readonly<Record<string, number>>;
}

export class ConnectionMetrics {
  /** The data plane's guard, and the admin listener's. */
  data: ConnectionCounts | undefined;
  admin: ConnectionCounts | undefined;
  /** The data plane's HTTP/2 sessions (src/proxy/h2-front.ts). */
  http2: { readonly sessions: ReadonlySet<unknown> } | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    const self = this;
    new Gauge({
      name: 'drproxy_connections_open',
      help: 'Client connections open on the data-plane listener',
      registers,
      collect() {
        if (self.data) this.set(self.data.open);
      },
    });
    new Gauge({
      name: 'drproxy_connections_limit',
      help: 'Client connections the data plane accepts at once: server.max_connections, or less when the open-file limit after server.fd_reserve is lower',
      registers,
      collect() {
        if (self.data) this.set(self.data.cap);
      },
    });
    new Counter({
      name: 'drproxy_connections_refused_total',
      help: 'Client connections answered 503 and closed at accept, by reason (max_connections, fd_limit, max_connections_per_client), and accept errors (accept_error: EMFILE, ENFILE)',
      labelNames: ['reason'],
      registers,
      collect() {
        const c = self.data;
        if (!c) return;
        this.reset();
        for (const [reason, n] of Object.entries(c.refused)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'drproxy_proxy_protocol_refused_total',
      help: 'Connections to proxy_protocol listeners closed before their PROXY header was taken, by reason (untrusted: the peer is not in server.trusted_proxies; invalid: a malformed header; timeout: none within server.headers_timeout)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(proxyProtocolRefused)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'drproxy_http2_sessions',
      help: 'HTTP/2 client connections open on the data-plane listeners (ALPN h2 and h2c); also counted in drproxy_connections_open',
      registers,
      collect() {
        if (self.http2) this.set(self.http2.sessions.size);
      },
    });
    // The admin listener's own guard: apart, so that a refused scrape is never read as data-plane load.
    new Gauge({
      name: 'drproxy_admin_connections_open',
      help: 'Client connections open on the admin listener',
      registers,
      collect() {
        if (self.admin) this.set(self.admin.open);
      },
    });
    new Counter({
      name: 'drproxy_admin_connections_refused_total',
      help: 'Admin client connections answered 503 and closed at accept, by reason (max_connections, max_connections_per_client), and accept errors (accept_error)',
      labelNames: ['reason'],
      registers,
      collect() {
        const c = self.admin;
        if (!c) return;
        this.reset();
        for (const [reason, n] of Object.entries(c.refused)) if (reason !== 'fd_limit') this.inc({ reason }, n);
      },
    });
  }
}
