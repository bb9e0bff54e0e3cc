/**
 * The data-plane listener. For each request: find the tenant (host, then path), read its
 * current route once, and forward, hold or refuse. It never decides anything about health or
 * failover; it only reads what the control plane published.
 *
 * Node server limits are set deliberately (see docs/security.md): headers must arrive
 * within headers_timeout, the whole request within request_timeout, idle keep-alive client
 * connections close after keep_alive_timeout, request headers are capped at max_header_size
 * and max_headers. Before routing, what Node's parser lets through is checked (request-checks.ts,
 * Host syntax in host-header.ts) and refused with the connection closed; only WebSocket upgrades
 * are taken over (upgrade-policy.ts); a connection's peer is trusted or not once (peer-trust.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { listen } from '../listen.js';
import { BAD_HOST, NO_HOST, type RouteMiss, type RouteTable } from './router.js';
import type { TenantRoute, TenantSlot } from './route.js';
import { ProxyCall, type FailureKind, type Forwarding, type UpstreamError } from './forwarder.js';
import type { Backend } from './backend.js';
import { HeldQueue, retryAfter } from './held.js';
import { UpgradeProxy } from './upgrade.js';
import { sendError, sendRedirect, sendSocketError, sendSocketRedirect, type ProxyErrorCode } from './responses.js';
import { redirectLocation } from './edge.js';
import { RequestChecks, targetRefusal } from './request-checks.js';
import { PeerTrust } from './peer-trust.js';
import { upgradeServerOptions } from './upgrade-policy.js';
import { onContinuePatchFailed } from './upstream-socket.js';
import { FaultLog, type UpstreamFault } from './fault-log.js';
import { ConnectionGuard } from './connection-guard.js';
import { Listeners } from './listeners.js';
import { sniRefusal } from './tls-host.js';
import type { AccessLog } from './access-log.js';
import { H2Front } from './h2-front.js';
import { headerListSize, settleHost } from './h2-request.js';

/** A request waits for its tenant's next route at most this many times. */
const MAX_HOLDS = 2;

export class DataPlane implements Forwarding {
  /** The first listener's server (`listen`); every listener is in `listeners`. */
  readonly server: http.Server;
  readonly listeners: Listeners;
  readonly upgrades: UpgradeProxy;
  readonly epochHeader: string;
  readonly siteHeader: string;
  /** Connection caps, the descriptor reserve, keep-alive off at 0, accept errors (connection-guard.ts). */
  readonly connections: ConnectionGuard;
  /** HTTP/2 sessions of every listener (h2-front.ts). */
  readonly h2: H2Front;
  private table: RouteTable;
  private readonly held = new WeakMap<TenantSlot, HeldQueue>();
  private readonly heldQueues = new Set<HeldQueue>();
  private readonly log: Logger;
  private readonly checks: RequestChecks;
  /** server.max_header_size, held against HTTP/2 header lists (h2-request.ts headerListSize). */
  private readonly maxHeaderList: number;
  private readonly trust: PeerTrust;
  private readonly faults: FaultLog;
  /** Shutting down: answers carry Connection: close. */
  closing = false;
  /** Undefined when access_log.mode is off: one branch per request, nothing else. */
  private accessLog: AccessLog | undefined;

  constructor(
    config: Config,
    table: RouteTable,
    logger: Logger,
  ) {
    this.table = table;
    this.log = logger.child({ component: 'data-plane' });
    this.faults = new FaultLog(this.log);
    this.epochHeader = config.headers.epoch;
    this.siteHeader = config.headers.site;
    this.upgrades = new UpgradeProxy(this.epochHeader, this.siteHeader);
    onContinuePatchFailed((reason) => this.log.warn({ reason }, `undici could not be taught to read an upstream's 100 Continue: such answers fail their requests (502)`));
    const s = config.server;
    this.checks = new RequestChecks(s.max_headers);
    this.maxHeaderList = s.max_header_size;
    this.trust = new PeerTrust(s.trusted_proxies, s.underscores_in_headers);
    const requestTimeout = s.request_timeout;
    const options: http.ServerOptions = {
      maxHeaderSize: s.max_header_size,
      requestTimeout,
      // Node requires headersTimeout <= requestTimeout when the latter is on.
      headersTimeout: requestTimeout > 0 ? Math.min(s.headers_timeout, requestTimeout) : s.headers_timeout,
      keepAliveTimeout: s.keep_alive_timeout,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(s.headers_timeout / 4))),
      noDelay: true,
      requireHostHeader: true,
      // A second Host becomes "a, b", which the Host syntax check refuses (RFC 9112 §3.2).
      joinDuplicateHeaders: true,
      // Only WebSocket upgrades are taken over; h2c and others get an HTTP/1.1 answer.
      ...upgradeServerOptions(),
    };
    const proxyProtocol = { trustedPeer: (socket: Socket) => this.trust.isTrustedPeer(socket), timeoutMs: s.headers_timeout };
    this.h2 = new H2Front(s, { request: (req, res, ec) => this.onH2Request(req, res, ec), connect: (_req, res) => this.refuse(res, 'method_not_implemented', CONNECT_REFUSED) }, this.log);
    this.listeners = new Listeners(config.listeners, options, config.tenants, this.log, proxyProtocol, this.h2);
    this.server = this.listeners.list[0]!.server;
    let guard: ConnectionGuard | undefined;
    for (const l of this.listeners.list) {
      const server = l.server;
      server.maxHeadersCount = this.checks.nodeMaxHeadersCount;
      server.maxRequestsPerSocket = s.max_requests_per_socket;
      server.timeout = 0;
      // One guard for every listener: the connection caps are process-wide (connection-guard.ts).
      if (guard === undefined) guard = new ConnectionGuard(server, s, this.log, { tls: l.certs !== undefined, proxyProtocol: l.cfg.proxy_protocol });
      else guard.attach(server, { tls: l.certs !== undefined, proxyProtocol: l.cfg.proxy_protocol });
      if (l.cfg.proxy_protocol) {
        const g = guard;
        l.afterProxyHeader = (socket) => g.admitClient(socket, l.certs === undefined);
      }
      this.handle(server, l.certs !== undefined);
    }
    this.connections = guard!;
  }

  /** The same handlers on every listener; a TLS one first checks that Host agrees with SNI (tls-host.ts). */
  private handle(server: http.Server, tls: boolean): void {
    if (tls) {
      /** True when Host and SNI disagree: the request was answered 421. */
      const misdirected = (req: IncomingMessage, res: ServerResponse): boolean => {
        const why = sniRefusal(req);
        if (why !== undefined) this.refuse(res, 'misdirected_request', why);
        return why !== undefined;
      };
      server.on('request', (req, res) => misdirected(req, res) || this.onRequest(req, res));
      server.on('checkContinue', (req, res) => misdirected(req, res) || this.onRequest(req, res, true));
      server.on('upgrade', (req, socket, head) => {
        const why = sniRefusal(req);
        if (why === undefined) this.onUpgrade(req, socket, head);
        else sendSocketError(socket, 'misdirected_request', why);
      });
    } else {
      server.on('request', (req, res) => this.onRequest(req, res));
      server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
      // Checked before Node sends 100 Continue, so that a refused client never sends its body.
      server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    }
    server.on('connect', (_req, socket: Duplex) => this.onConnect(socket));
  }

  /** Swap the access log (start, reload, stop); the old one's file is flushed and closed. */
  setAccessLog(log: AccessLog | undefined): Promise<void> {
    const old = this.accessLog;
    this.accessLog = log;
    return old === undefined ? Promise.resolve() : old.close();
  }

  /** Swap the routing table (config reload). Requests in flight keep the route they read. */
  setTable(table: RouteTable): void {
    this.table = table;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listen(this.server, host, port, 'data plane');
  }

  /** Bind every listener at its configured address; the first's address comes first. */
  listenAll(): Promise<AddressInfo[]> {
    return this.listeners.listenAll();
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Each listener's bound port (undefined while not listening), in `listen` order: as ThreadedDataPlane.ports. */
  ports(): Array<number | undefined> {
    return this.listeners.list.map((l) => (l.server.listening ? (l.server.address() as AddressInfo).port : undefined));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    if (this.closing) res.shouldKeepAlive = false;
    const url = req.url!;
    const refusal = targetRefusal(url) ?? this.checks.check(req);
    if (refusal !== undefined) {
      this.refuse(res, refusal.code, refusal.detail);
      return;
    }
    this.serve(req, res, url, expectsContinue);
  }

  /**
   * An HTTP/2 stream (h2-front.ts): its host is its :authority (h2-request.ts), checked against
   * SNI on TLS; Node's HTTP/2 layer already refused what the HTTP/1.1 checks look for
   * (connection-specific fields, header list size and count); then it is served as any request.
   */
  private onH2Request(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    if (headerListSize(req.rawHeaders) > this.maxHeaderList) {
      this.refuse(res, 'headers_too_large', `request headers over ${this.maxHeaderList} bytes (server.max_header_size)`);
      return;
    }
    const host = settleHost(req);
    if (host === undefined || host === 'mismatch') {
      this.refuse(res, 'bad_host', host === undefined ? 'the request names no host (:authority or Host)' : ':authority and Host name different hosts');
      return;
    }
    const refusal = targetRefusal(req.url!);
    if (refusal !== undefined) {
      this.refuse(res, refusal.code, refusal.detail);
      return;
    }
    const why = sniRefusal(req);
    if (why !== undefined) this.refuse(res, 'misdirected_request', why);
    else this.serve(req, res, req.url!, expectsContinue);
  }

  private serve(req: IncomingMessage, res: ServerResponse, url: string, expectsContinue: boolean): void {
    const slot = this.table.find(req.headers.host, url);
    if (typeof slot === 'number') {
      if (slot === BAD_HOST) this.refuse(res, 'bad_host', missText(slot));
      else this.answer(res, missCode(slot), missText(slot));
      return;
    }
    this.trust.attach(req.socket);
    // Node parses what follows a request that carried Connection: upgrade as another protocol
    // and drops a request pipelined behind it: an ignored Upgrade (h2c...) ends the connection.
    if (req.headers.upgrade !== undefined) res.shouldKeepAlive = false;
    const edge = slot.route.edge;
    if (edge !== undefined && edge.redirect) {
      const location = redirectLocation(edge, req);
      // Before any 100 Continue: the client need not send its body (Node closes the
      // connection after such an answer rather than read a body that may never come).
      if (location !== undefined) return this.redirect(res, location, slot);
    }
    if (expectsContinue) res.writeContinue();
    this.route(req, res, slot);
  }

  /** A malformed or hostile request: answered, and its connection closed (body unread). */
  private refuse(res: ServerResponse, code: ProxyErrorCode, detail: string): void {
    res.shouldKeepAlive = false;
    this.answer(res, code, detail);
  }

  /** drproxy's own answer to a request that never became a call. */
  private answer(res: ServerResponse, code: ProxyErrorCode, detail: string, slot?: TenantSlot, retryAfterSeconds?: number): void {
    const bytes = sendError(res, code, detail, retryAfterSeconds);
    if (this.accessLog !== undefined) this.accessLog.answered(res.req, res, code, bytes, slot);
  }

  /** redirect_https: a 308, never forwarded; logged as drproxy's own answers are (no error code). */
  private redirect(res: ServerResponse, location: string, slot: TenantSlot): void {
    const bytes = sendRedirect(res, location);
    if (this.accessLog !== undefined) this.accessLog.answered(res.req, res, null, bytes, slot);
  }

  /** Forward, hold or refuse a request according to its tenant's current route. */
  private route(req: IncomingMessage, res: ServerResponse, slot: TenantSlot): void {
    const route = slot.route;
    if (route.mode === 'serve') {
      const backend = route.balancer.pick();
      if (backend !== undefined) {
        new ProxyCall(req, res, slot, this).dispatch(route, backend);
        return;
      }
    }
    if (route.mode === 'unavailable') {
      this.answer(res, route.refusal, `tenant ${route.tenant}: ${route.reason}`, slot, 5);
      return;
    }
    // Held as a call that has not been sent yet: its body stays unread until released.
    const call = new ProxyCall(req, res, slot, this);
    const queue = this.queueOf(slot);
    const held = queue.hold(call, route);
    if (held === 'late') call.expire(route); // hold_requests: 0
    else if (held === 'full') {
      call.reject('hold_full', `tenant ${route.tenant} is failing over and too many requests are waiting`, retryAfter(route));
      // Shedding load is an operator's business: say so, at most once a second per tenant.
      const n = queue.refused();
      if (n > 0) this.log.warn({ tenant: route.tenant, refused: n, hold_max: route.holdMax, route: route.reason }, `held requests at hold_max: ${n} request(s) answered 503 (hold_full)`);
    }
  }

  private queueOf(slot: TenantSlot): HeldQueue {
    let q = this.held.get(slot);
    if (!q) {
      q = new HeldQueue(slot);
      this.held.set(slot, q);
      this.heldQueues.add(q);
    }
    return q;
  }

  // --- Forwarding (called by ProxyCall) ----------------------------------------------------

  /**
   * Where a failed attempt goes next: another backend of the active site; the same backend
   * once more when it is the only one (a dead backend refuses again in microseconds, a blip
   * gets a second chance); else, when another site can take over, the call waits for the flip
   * (up to the site's detection time). Bounded per request (max_retries) and per tenant (the
   * retry budget: concurrent retries at most retry_budget_percent of requests in flight, with a
   * floor of retry_budget_min).
   */
  retry(call: ProxyCall, err: UpstreamError): boolean {
    const plan = this.plan(call, err.kind);
    if (plan === undefined) return false;
    if (plan === 'hold') {
      call.holds++;
      const route = call.slot.route;
      // Held for another site because its backend reset the connection (once connected, or
      // while connecting): find out now whether anything still listens there
      // (Backend.dialCheck), rather than at the next probe.
      if (route.mode !== 'hold' && (err.kind === 'reset' || err.code === 'ECONNRESET')) call.backend.dialCheck();
      return this.queueOf(call.slot).hold(call, route, route.mode === 'hold' ? route.holdMs : route.detectMs) === 'held';
    }
    call.retries++;
    call.slot.observer?.retry(err.kind);
    if (!call.budgeted) {
      call.budgeted = true;
      call.slot.load.retrying++;
    }
    if (plan === call.backend) call.retriedSame = true;
    call.dispatch(call.slot.route, plan);
    return true;
  }

  canRetry(call: ProxyCall, kind: FailureKind): boolean {
    return this.plan(call, kind) !== undefined;
  }

  /**
   * Where a failed attempt goes: a backend to re-send it to, 'hold' (wait for the tenant's
   * next route), or undefined (answer with the error). Re-sends are bounded by max_retries and
   * the tenant's retry budget; waiting for a flip sends nothing upstream, so it is bounded
   * instead by the wait itself and MAX_HOLDS.
   */
  private plan(call: ProxyCall, kind: FailureKind): Backend | 'hold' | undefined {
    if (!call.retryable(kind)) return undefined;
    const route = call.slot.route;
    if (route.mode === 'unavailable') return undefined;
    const canHold = call.holds < MAX_HOLDS;
    if (route.mode === 'hold') return canHold ? 'hold' : undefined;
    if (call.retries < route.proxy.max_retries) {
      const next = route.balancer.pick(call.backend);
      const resend = next !== undefined && (next !== call.backend || !call.retriedSame) ? next : undefined;
      if (resend !== undefined && (call.budgeted || this.budgetAllows(call, route))) return resend;
    }
    return route.standby && canHold ? 'hold' : undefined;
  }

  private budgetAllows(call: ProxyCall, route: TenantRoute): boolean {
    const load = call.slot.load;
    const p = route.proxy;
    return load.retrying < Math.max(p.retry_budget_min, (load.inflight * p.retry_budget_percent) / 100);
  }

  /** Hold a call again (flip re-dispatch, or a wait that ended while the tenant still holds), within its bound. */
  requeue(call: ProxyCall): void {
    const route = call.slot.route;
    if (route.mode !== 'hold') {
      call.release(route);
      return;
    }
    const held = this.queueOf(call.slot).hold(call, route);
    if (held === 'late') call.expire(route);
    else if (held === 'full') call.reject('hold_full', `tenant ${route.tenant} is failing over and too many requests are waiting`, retryAfter(route));
  }

  finished(call: ProxyCall): void {
    call.slot.observer?.done(call.status || call.res.statusCode, (performance.now() - call.startedAt) / 1000);
    if (this.accessLog !== undefined) this.accessLog.record(call);
  }

  /** An upstream answered something invalid or cut its answer short (logged, rate-limited). */
  upstreamFault(call: ProxyCall, fault: UpstreamFault, detail: string): void {
    this.faults.report(call.backend, fault, detail);
  }

  // --- Upgrades ------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = req.url!;
    const refusal = targetRefusal(url) ?? this.checks.check(req);
    if (refusal !== undefined) {
      sendSocketError(socket, refusal.code, refusal.detail);
      return;
    }
    const slot = this.table.find(req.headers.host, url);
    if (typeof slot === 'number') {
      sendSocketError(socket, missCode(slot), missText(slot));
      return;
    }
    const route = slot.route;
    // A WebSocket over plain HTTP to a redirect_https tenant is not served either.
    const location = route.edge?.redirect === true ? redirectLocation(route.edge, req) : undefined;
    if (location !== undefined) {
      sendSocketRedirect(socket, location);
      return;
    }
    const backend = route.mode === 'serve' ? route.balancer.pick() : undefined;
    if (!backend) {
      sendSocketError(socket, route.mode === 'unavailable' ? route.refusal : 'no_healthy_backend', `tenant ${route.tenant}: ${route.reason || 'no backend available'}`);
      return;
    }
    this.trust.attach(req.socket);
    this.upgrades.handle(req, socket, head, route, backend);
  }

  /** CONNECT: drproxy is a reverse proxy, never a tunnel (Node would close the socket unanswered). */
  private onConnect(socket: Duplex): void {
    socket.on('error', () => {});
    sendSocketError(socket, 'method_not_implemented', CONNECT_REFUSED);
  }

  /**
   * Stop accepting connections and wait for in-flight requests, up to `timeoutMs`; then cut
   * what is left. Keep-alive clients get `Connection: close` on their next answer.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.listeners.close();
    const servers = this.listeners.list.map((l) => l.server).filter((sv) => sv.listening);
    const closed = Promise.all(servers.map((sv) => new Promise<void>((resolve) => sv.close(() => resolve()))));
    for (const sv of servers) sv.closeIdleConnections();
    // HTTP/2 sessions get GOAWAY: their open streams finish, then they close.
    this.h2.close();
    // Upgraded connections are long-lived: close them now rather than hold the stop.
    this.upgrades.closeAll();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    // Keep-alive connections that go idle after their last answer are closed as they do.
    const idle = setInterval(() => servers.forEach((sv) => sv.closeIdleConnections()), 100);
    const timedOut = await Promise.race([closed.then(() => false), deadline]);
    clearInterval(idle);
    clearTimeout(timer);
    if (timedOut) {
      this.log.warn('shutdown timeout reached: answering held requests and closing the remaining connections');
      for (const q of this.heldQueues) q.flush();
      for (const sv of servers) sv.closeAllConnections();
      this.h2.destroyAll();
      await closed;
    }
  }
}

const CONNECT_REFUSED = 'CONNECT is not supported: this is a reverse proxy';

function missCode(miss: RouteMiss): ProxyErrorCode {
  return miss === BAD_HOST ? 'bad_host' : miss === NO_HOST ? 'unknown_host' : 'no_route';
}

function missText(miss: RouteMiss): string {
  if (miss === BAD_HOST) return 'the Host header is not a valid host[:port]';
  return miss === NO_HOST ? 'no tenant is configured for this host' : 'no tenant is configured for this path on this host';
}
