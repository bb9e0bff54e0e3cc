/**
 * The data plane's listeners (`listen`, docs/tls.md): each a plain http.Server or an
 * https.Server terminating TLS, all with the same server limits and handlers (data-plane.ts).
 * A TLS listener chooses its certificate by SNI (src/tls/cert-store.ts), rotates its session
 * ticket key on a schedule, and takes changed certificate files for new handshakes.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { ListenerConfig } from '../config/tls-types.js';
import type { Logger } from '../log.js';
import { listen } from '../listen.js';
import { CertStore, type CertProblem, type LoadedCert, type TenantCerts } from '../tls/cert-store.js';
import { CertWatch } from '../tls/cert-watch.js';
import { ProxyHeaderReader } from './proxy-header-reader.js';

/** What a `proxy_protocol: true` listener needs (proxy-header-reader.ts). */
export interface ProxyProtocolOptions {
  /** The TCP peer is in server.trusted_proxies. */
  trustedPeer(socket: Socket): boolean;
  /** server.headers_timeout. */
  timeoutMs: number;
}
import type { H2Front } from './h2-front.js';
import { installH2cPreface } from './h2c.js';

export interface Listener {
  readonly cfg: ListenerConfig;
  readonly server: http.Server;
  /** TLS listeners only. */
  readonly certs?: CertStore;
  /** "127.0.0.1:8443": names the listener in logs and errors. */
  readonly name: string;
  /** The fingerprint of the default certificate in the server's own context. */
  defaultPrint?: string;
  /** proxy_protocol listeners: called once the header is read; false closes the connection (connection-guard.ts admitClient). */
  afterProxyHeader?: (socket: Socket) => boolean;
}

export class Listeners {
  readonly list: Listener[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly watch: CertWatch;
  private readonly readers: ProxyHeaderReader[] = [];

  constructor(
    configs: readonly ListenerConfig[],
    serverOptions: http.ServerOptions,
    tenants: readonly TenantCerts[],
    private readonly log: Logger,
    proxy?: ProxyProtocolOptions,
    /** HTTP/2 to clients: ALPN h2 on TLS listeners (`http2`), prior knowledge on plain ones (`h2c`). */
    private readonly h2?: H2Front,
  ) {
    this.list = configs.map((cfg) => this.create(cfg, serverOptions, tenants));
    if (proxy !== undefined) for (const l of this.list) if (l.cfg.proxy_protocol) this.readers.push(readProxyHeaderFirst(l, proxy, this.log));
    this.watch = new CertWatch(
      () => this.refresh('file changed'),
      (dir, err) => this.log.warn({ event: 'tls_watch_failed', dir, err: err.message }, `TLS: cannot watch ${dir} for certificate changes (${err.message}); SIGHUP or POST /reload reads them`),
    );
    this.watchFiles();
  }

  private create(cfg: ListenerConfig, serverOptions: http.ServerOptions, tenants: readonly TenantCerts[]): Listener {
    const name = `${cfg.address.host}:${cfg.address.port}`;
    const t = cfg.tls;
    if (t === undefined) return { cfg, name, server: this.plainServer(cfg, serverOptions) };
    const certs = new CertStore(t, tenants);
    const def = certs.defaultCert;
    const server = https.createServer({
      ...serverOptions,
      ...(def && certs.contextOptions(def.pair)),
      minVersion: t.min_version,
      ciphers: t.ciphers,
      ticketKeys: randomBytes(48),
      ALPNProtocols: this.h2 !== undefined && cfg.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      // A client that connects and never completes its handshake is closed as a silent HTTP
      // client is (server.headers_timeout), not after Node's 120 s default.
      ...(serverOptions.headersTimeout !== undefined && { handshakeTimeout: serverOptions.headersTimeout }),
      // Unknown names get the default certificate (undefined: the server's own context).
      SNICallback: (servername, cb) => cb(null, certs.find(servername)),
    });
    if (this.h2 !== undefined && cfg.http2) this.h2.attachTls(server);
    if (t.ticket_rotation > 0) {
      // Node keeps one ticket key: tickets issued before a rotation are refused and those
      // clients do a full handshake (docs/tls.md).
      const timer = setInterval(() => server.setTicketKeys(randomBytes(48)), t.ticket_rotation);
      timer.unref();
      this.timers.push(timer);
    }
    return { cfg, name, server, certs, ...(def && { defaultPrint: def.pair.fingerprint }) };
  }

  private plainServer(cfg: ListenerConfig, serverOptions: http.ServerOptions): http.Server {
    const server = http.createServer(serverOptions);
    const h2 = this.h2;
    if (h2 !== undefined && cfg.h2c) installH2cPreface(server, (socket) => h2.h2c(socket), serverOptions.headersTimeout ?? 0);
    return server;
  }

  get tls(): Listener[] {
    return this.list.filter((l) => l.certs !== undefined);
  }

  async listenAll(): Promise<AddressInfo[]> {
    const out: AddressInfo[] = [];
    for (const l of this.list) out.push(await listen(l.server, l.cfg.address.host, l.cfg.address.port, `data plane (${l.cfg.tls ? 'tls' : 'http'} listener ${l.name})`));
    return out;
  }

  /** Every certificate served, once per (tenant, name) (drproxy_tls_cert_expiry_seconds). */
  *certs(): Iterable<LoadedCert> {
    for (const l of this.tls) yield* l.certs!.certs();
  }

  /** Tenants changed (config reload): their certificates are read again; problems are returned, old pairs kept. */
  setTenants(tenants: readonly TenantCerts[]): CertProblem[] {
    const problems: CertProblem[] = [];
    for (const l of this.tls) problems.push(...this.applied(l, l.certs!.setTenants(tenants)));
    this.watchFiles();
    return dedupe(problems);
  }

  /** Re-read every certificate file (a watched file changed, SIGHUP, POST /reload). */
  refresh(why: string): CertProblem[] {
    const problems: CertProblem[] = [];
    for (const l of this.tls) problems.push(...this.applied(l, l.certs!.refresh()));
    this.watchFiles();
    const list = dedupe(problems);
    for (const p of list) this.log.error({ event: 'tls_cert_refused', file: p.file, why }, `TLS certificate refused: ${p.message}`);
    return list;
  }

  /** Say which certificates new handshakes now get. */
  private logReplaced(l: Listener): void {
    for (const c of l.certs!.replaced.splice(0)) {
      this.log.info({ event: 'tls_cert_loaded', listener: l.name, tenant: c.source.tenant, name: c.pair.name, file: c.pair.certFile, not_after: new Date(c.pair.notAfter).toISOString() }, `TLS certificate ${c.pair.name} reloaded: new handshakes use it`);
    }
  }

  /** After a refresh: the default certificate, when it changed, goes to the server's own context. */
  private applied(l: Listener, problems: CertProblem[]): CertProblem[] {
    this.logReplaced(l);
    const def = l.certs!.defaultCert;
    if (def !== undefined && l.defaultPrint !== def.pair.fingerprint) {
      if (l.defaultPrint !== undefined) (l.server as https.Server).setSecureContext(l.certs!.contextOptions(def.pair));
      l.defaultPrint = def.pair.fingerprint;
    }
    return problems;
  }

  private watchFiles(): void {
    const files = this.tls.flatMap((l) => l.certs!.files());
    const dirs = this.tls.flatMap((l) => (l.cfg.tls!.cert_dir !== undefined ? [l.cfg.tls!.cert_dir] : []));
    this.watch.set(files, dirs);
  }

  /** Stop timers and watches (the servers are closed by the data plane). */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const r of this.readers) r.close();
    this.watch.close();
  }
}

/**
 * PROXY protocol (proxy-header-reader.ts): the 'connection' handlers registered so far (Node's
 * HTTP parser or TLS wrap, and any check on the protocol's first bytes such as an h2c preface
 * check, which must be registered before this runs) get each socket only once its header is
 * read and taken off. What wraps 'connection' afterwards (the connection guard) sees the socket
 * first, at accept.
 */
function readProxyHeaderFirst(l: Listener, opts: ProxyProtocolOptions, log: Logger): ProxyHeaderReader {
  const server: Server = l.server;
  const reader = new ProxyHeaderReader({ trusted: opts.trustedPeer, timeoutMs: opts.timeoutMs, log, listener: l.name });
  const handlers = server.listeners('connection') as Array<(this: Server, socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) =>
    reader.read(socket, l.certs === undefined, (s) => {
      if (l.afterProxyHeader !== undefined && !l.afterProxyHeader(s)) return;
      for (const h of handlers) h.call(server, s);
    }),
  );
  return reader;
}

function dedupe(problems: CertProblem[]): CertProblem[] {
  const seen = new Map<string, CertProblem>();
  for (const p of problems) seen.set(`${p.file}\n${p.message}`, p);
  return [...seen.values()];
}
