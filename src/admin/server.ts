/**
 * The admin API, on its own listener (default 127.0.0.1:9901), never on the data-plane port.
 *
 * Unauthenticated: GET /healthz, /readyz, /metrics (unless admin.metrics_auth). Everything
 * else needs `Authorization: Bearer <token>`: viewer for reads, operator for mutations.
 * Mutations are POST with a JSON body (Content-Type: application/json); no cookies are read
 * and no CORS headers are ever sent, so a browser page cannot drive it, and a Host outside
 * the allow-list is refused (421), so a DNS-rebinding page cannot read it either. Errors are
 * JSON `{error, detail}`.
 *
 * Every call passes, in order: the rate limit (429; see admit()), the Host check (421), the
 * route (404/405), the token (401/403), the body (413/415/400), then, for a mutation, its
 * intent record in the audit file (503 audit_unavailable when that cannot be written: nothing
 * changes). Every call but the probes is audited; refused calls are summed per address.
 * Nothing a client sends, and no failure of a handler, can end the process: every failure is
 * caught, answered (500) while an answer is still possible, logged and counted.
 *
 * Connections are capped at accept by the data plane's ConnectionGuard, with the admin's own
 * small caps (admin.max_connections, _per_client): one client holding idle sockets cannot keep
 * probes and scrapes from another out, nor take the descriptors the data plane reserved. A
 * connection silent for admin.headers_timeout after accept is closed (Node's 408).
 *
 * admin.public_listen, when set, is a second listener whose requests take the same path but
 * see only /healthz, /readyz and /metrics (public-listener.ts): probes and scrapes from the
 * network, the rest kept to admin.listen.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import { DrProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { listen } from '../listen.js';
import { ConnectionGuard } from '../proxy/connection-guard.js';
import { roleAllows, type Principal, type TokenStore } from './auth.js';
import { AuditUnavailableError, type AuditLog, type AuditRecord } from './audit.js';
import type { AdminApi } from './api.js';
import { ClientGoneError, MAX_BODY, readJson } from './body.js';
import { HostCheck } from './host-check.js';
import { HttpError } from './http-error.js';
import { Reply, StreamReply } from './reply.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { RateLimiter } from './rate-limit.js';
import { RefusalTally, type RefusalSummary } from './refusals.js';
import { buildRoutes, type Ctx, type Route } from './routes.js';
import { withApprovals } from './approval-routes.js';
import { DEFAULT_APPROVAL_TIMEOUT } from '../config/defaults.js';
import { safetyRuleBody } from './safety-rule-body.js';
import { adminServerOptions, PUBLIC_NOT_FOUND, PublicListener, publicOnly, summedCounts } from './public-listener.js';

export { HttpError };

/** Counters of what the admin API refused or failed at (metrics). */
export interface AdminCounters {
  /** A call answered 4xx, by error code (unauthorized, too_many_requests, …). */
  refused(code: string): void;
  /** A handler failed unexpectedly (answered 500, or the client was gone). */
  handlerError(action: string): void;
}

const NO_COUNTERS: AdminCounters = { refused: () => {}, handlerError: () => {} };
/** Unexpected handler failures logged in full per minute; past it they are only counted. */
const FAILURE_LOGS_PER_MINUTE = 10;

interface Limits {
  /** Unauthenticated calls, per client address. */
  anonymous: RateLimiter;
  /** Authenticated calls, per token: a flood from an operator's address cannot lock it out. */
  tokens: RateLimiter;
  /** GET /metrics, per client address. */
  metrics: RateLimiter;
}

export class AdminServer {
  readonly server: http.Server;
  /** Admin connection caps and refusal counts (metrics: drproxy_admin_connections_*). */
  readonly connections: ConnectionGuard;
  /** admin.public_listen: probes and /metrics only (public-listener.ts); absent unless configured. */
  readonly public: PublicListener | undefined;
  private tokens: TokenStore;
  private readonly routes: Route[];
  private cfg: AdminConfig;
  private hosts: HostCheck;
  private limits: Limits;
  private readonly refusals: RefusalTally;
  private failureLogs = { minute: 0, count: 0 };

  constructor(
    cfg: AdminConfig,
    private readonly api: AdminApi,
    tokens: TokenStore,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly counters: AdminCounters = NO_COUNTERS,
  ) {
    this.cfg = cfg;
    this.tokens = tokens;
    // Two-person approval wraps the gated routes (approval-routes.ts).
    this.routes = withApprovals(buildRoutes(api), { api, audit, timeout: () => this.cfg.approval_timeout ?? DEFAULT_APPROVAL_TIMEOUT, toHttpError });
    this.hosts = new HostCheck(cfg.allowed_hosts, cfg.listen.host);
    this.limits = makeLimits(cfg);
    const rl = cfg.rate_limit;
    this.refusals = new RefusalTally(rl.refused_log_interval, rl.max_clients, (s) => this.auditRefusals(s));
    this.server = http.createServer(adminServerOptions(cfg), (req, res) => this.onRequest(req, res));
    this.connections = new ConnectionGuard(this.server, cfg, log, { listener: 'admin' });
    // `Expect: 100-continue`: the 100 is sent only once the call is admitted (see handle()).
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, true));
    this.public = cfg.public_listen && new PublicListener(cfg, cfg.public_listen, log, (req, res, c) => this.onRequest(req, res, c, true));
  }

  /** Both listeners' connection counts (metrics). */
  connectionCounts(): ReturnType<typeof summedCounts> {
    return summedCounts(this.connections, this.public?.connections);
  }

  setTokens(tokens: TokenStore): void {
    this.tokens = tokens;
  }

  /** A reloaded admin section: Host allow-list, metrics_auth, rate limits (buckets kept if unchanged). */
  setConfig(cfg: AdminConfig): void {
    if (JSON.stringify(cfg.rate_limit) !== JSON.stringify(this.cfg.rate_limit)) this.limits = makeLimits(cfg);
    this.hosts = new HostCheck(cfg.allowed_hosts, cfg.listen.host);
    this.public?.setConfig(cfg);
    this.cfg = cfg;
  }

  /** Listens on admin.listen, then on admin.public_listen when set; resolves the admin address. */
  async listen(): Promise<AddressInfo> {
    const a = await listen(this.server, this.cfg.listen.host, this.cfg.listen.port, 'admin');
    await this.public?.listen();
    return a;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): Promise<void> {
    this.refusals.close();
    const admin = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return Promise.all([admin, this.public?.close()]).then(() => {});
  }

  /** The request listener: whatever handle() does, its failure is caught here. */
  private onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false, isPublic = false): void {
    // Every answer, errors and the console's files included (security-headers.ts).
    for (const k in SECURITY_HEADERS) res.setHeader(k, SECURITY_HEADERS[k]!);
    this.handle(req, res, expectsContinue, isPublic).catch((err: unknown) => this.handlerFailed(err, undefined, res));
  }

  private async handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean, isPublic: boolean): Promise<void> {
    // Read now: once the client is gone, req.socket is null.
    const remote = req.socket?.remoteAddress ?? 'unknown';
    const path = (req.url ?? '/').split('?')[0]!;
    const matched = this.match(req.method, path);
    const { route, params, methodMismatch, badEscape } = isPublic ? publicOnly(matched) : matched;
    const principal = this.tokens.authenticate(req.headers.authorization);
    const ctx: Ctx = { req, remote, path, params, principal, body: {}, audit: {}, ...(expectsContinue && { withheld: true }) };
    try {
      this.admit(route, ctx, isPublic);
      if (badEscape) throw new HttpError(400, 'bad_request', `malformed %-escape in ${path}`);
      if (!route) {
        if (methodMismatch) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
        throw new HttpError(404, 'not_found', isPublic ? PUBLIC_NOT_FOUND : `no admin endpoint ${path}`);
      }
      this.authorize(route, principal, req);
      ctx.authorized = true;
      if (route.method === 'POST') {
        if (ctx.withheld && !(Number(req.headers['content-length']) > MAX_BODY)) {
          res.writeContinue();
          ctx.withheld = false;
        }
        ctx.body = await readJson(req);
      }
      if (route.role === 'operator') this.writeIntent(route, ctx);
      const result = await route.handle(ctx);
      closeIfUnread(ctx, res);
      if (result instanceof StreamReply) {
        result.start(req, res);
      } else if (result instanceof Reply) {
        sendReply(res, result);
      } else if (typeof result === 'string') {
        if (!res.headersSent) res.writeHead(200, { 'content-type': this.api.metricsContentType(), 'cache-control': 'no-store' });
        res.end(result);
      } else {
        sendJson(res, 200, result);
      }
      if (!route.quiet) this.auditCall(route, ctx, 'ok', result instanceof Reply ? result.status : 200);
    } catch (err) {
      this.fail(err, route, ctx, res);
    }
  }

  private match(method: string | undefined, path: string): { route?: Route; params: string[]; methodMismatch: boolean; badEscape: boolean } {
    let methodMismatch = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method !== method && !(r.method === 'GET' && method === 'HEAD')) {
        methodMismatch = true;
        continue;
      }
      try {
        return { route: r, params: m.slice(1).map((p) => decodeURIComponent(p)), methodMismatch, badEscape: false };
      } catch {
        return { route: r, params: [], methodMismatch, badEscape: true }; // a malformed %-escape is a 400, never a crash
      }
    }
    return { params: [], methodMismatch, badEscape: false };
  }

  /**
   * Rate limit, then Host check. /healthz and /readyz are never limited: answering them costs
   * no more than refusing them, and a liveness probe refused with 429 would get the pod
   * restarted, which is what a flood would want. /metrics costs a serialisation of every
   * series, so it has a budget of its own per address (ample for Prometheus, which scrapes
   * every 15-60 s), apart from the API's so that a flood of API calls cannot starve scrapes.
   */
  private admit(route: Route | undefined, ctx: Ctx, isPublic: boolean): void {
    if (!route?.probe) {
      const rl = this.cfg.rate_limit;
      const isMetrics = route?.action === 'metrics';
      const [limiter, key, rate, who] = isMetrics
        ? [this.limits.metrics, ctx.remote, rl.metrics_rate, `GET /metrics from ${ctx.remote}`]
        : ctx.principal
          ? [this.limits.tokens, ctx.principal.name, rl.rate, `calls with token "${ctx.principal.name}"`]
          : [this.limits.anonymous, ctx.remote, rl.rate, `calls from ${ctx.remote}`];
      const t = limiter.take(key);
      if (!t.ok) {
        throw new HttpError(429, 'too_many_requests', `more than ${rate} ${who} per second (admin.rate_limit); retry after ${t.retryAfter} s`, { retry_after: t.retryAfter }, { 'retry-after': String(t.retryAfter) });
      }
    }
    const host = ctx.req.headers.host;
    const hosts = isPublic ? this.public!.hosts : this.hosts;
    if (!hosts.allows(host)) {
      const own = isPublic ? this.public!.where.host : this.cfg.listen.host;
      throw new HttpError(421, 'misdirected_request', `the admin API does not answer to Host ${JSON.stringify(host)}: use its IP address, localhost or ${own}, or add the name to admin.allowed_hosts`);
    }
  }

  private authorize(route: Route, principal: Principal | undefined, req: IncomingMessage): void {
    let need = route.role;
    if (need === 'metrics') need = this.cfg.metrics_auth ? 'viewer' : undefined;
    if (need === undefined) return;
    if (!principal) {
      const why = req.headers.authorization === undefined ? 'an Authorization: Bearer token is required' : 'the token is not valid';
      throw new HttpError(401, 'unauthorized', why);
    }
    if (!roleAllows(principal.role, need)) {
      if (need === 'operator' && !this.tokens.hasOperator) {
        throw new HttpError(403, 'forbidden', 'mutations are disabled: no operator token is configured');
      }
      throw new HttpError(403, 'forbidden', `token "${principal.name}" has role ${principal.role}; this needs ${need}`);
    }
  }

  /** The mutation's record, on disk before it runs; throws (→ 503) when it cannot be. */
  private writeIntent(route: Route, ctx: Ctx): void {
    const [tenant, site, backend] = ctx.path.startsWith('/tenants/') ? ctx.params : [];
    const to = ctx.body.to;
    const siteName = site ?? (typeof to === 'string' ? to : undefined);
    const reason = ctx.body.reason;
    this.audit.intent({
      action: route.action,
      actor: ctx.principal?.name ?? 'anonymous',
      ...(ctx.principal && { role: ctx.principal.role }),
      remote: ctx.remote,
      ...(tenant !== undefined && { tenant }),
      ...(siteName !== undefined && { site: siteName }),
      ...(backend !== undefined && { backend }),
      ...(typeof reason === 'string' && { reason }),
      ...(ctx.body.break_glass === true && { break_glass: true }),
    });
  }

  /** Answers an error (when someone is left to answer), audits it and counts it. */
  private fail(err: unknown, route: Route | undefined, ctx: Ctx, res: ServerResponse): void {
    if (err instanceof ClientGoneError) {
      this.auditOutcome(route, ctx, 499, 'error', err.message);
      return;
    }
    const e = toHttpError(err);
    if (e.status >= 500 && e.status !== 503) this.handlerFailed(err, route, res, ctx);
    if (e.status >= 400 && e.status < 500) this.counters.refused(e.code);
    closeIfUnread(ctx, res);
    sendJson(res, e.status, { error: e.code, detail: e.message, ...e.extra }, e.headers);
    this.auditOutcome(route, ctx, e.status, e.status === 401 || e.status === 403 ? 'denied' : 'error', e.message);
  }

  private auditOutcome(route: Route | undefined, ctx: Ctx, status: number, result: AuditRecord['result'], detail: string): void {
    // Refused before the token and role were accepted: summed (the calls of an authorized
    // principal are its own actions, each recorded, and bounded by its rate limit).
    const refused = status >= 400 && status < 500 && !ctx.authorized;
    if (refused) {
      this.audit.count(route?.action ?? 'unknown', result);
      if (this.refusals.admit(ctx.remote, status, ctx.principal?.name)) this.audit.record(this.recordOf(route, ctx, result, status, detail), 'refused');
    } else if (!route?.quiet) {
      this.auditCall(route, ctx, result, status, detail);
    }
  }

  private auditCall(route: Route | undefined, ctx: Ctx, result: AuditRecord['result'], status: number, detail?: string): void {
    this.audit.count(route?.action ?? 'unknown', result);
    this.audit.record(this.recordOf(route, ctx, result, status, detail));
  }

  private recordOf(route: Route | undefined, ctx: Ctx, result: AuditRecord['result'], status: number, detail?: string): AuditRecord {
    return {
      action: route?.action ?? 'unknown',
      actor: ctx.principal?.name ?? 'anonymous',
      ...(ctx.principal && { role: ctx.principal.role }),
      result,
      status,
      remote: ctx.remote,
      ...(!route && { method: String(ctx.req.method), path: ctx.path }),
      ...(status === 421 && ctx.req.headers.host !== undefined && { host: ctx.req.headers.host }),
      ...ctx.audit,
      ...(detail !== undefined && { detail }),
    };
  }

  private auditRefusals(s: RefusalSummary): void {
    const top = Object.entries(s.statuses).sort((a, b) => b[1] - a[1])[0];
    this.audit.record(
      { action: 'refused', actor: s.actor, result: 'denied', status: Number(top?.[0] ?? 0), remote: s.remote, count: s.count, statuses: s.statuses, window_seconds: s.windowMs / 1000 },
      'refused',
    );
  }

  /**
   * An unexpected failure: counted, logged (up to FAILURE_LOGS_PER_MINUTE a minute: a client
   * able to trigger one must not flood the log), answered 500 if an answer can still be sent.
   * Never throws.
   */
  private handlerFailed(err: unknown, route: Route | undefined, res: ServerResponse, ctx?: Ctx): void {
    try {
      const action = route?.action ?? 'unknown';
      this.counters.handlerError(action);
      const minute = Math.floor(Date.now() / 60_000);
      if (minute !== this.failureLogs.minute) this.failureLogs = { minute, count: 0 };
      if (++this.failureLogs.count <= FAILURE_LOGS_PER_MINUTE) this.log.error({ err, action, remote: ctx?.remote }, `admin ${action} failed`);
      if (!ctx) {
        // The failure escaped handle() itself: answer if we can, else drop the connection.
        if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: 'internal', detail: 'internal error' });
        else res.destroy();
      }
    } catch {
      // Last resort: never let a failure here reach the event loop.
    }
  }
}

function makeLimits(cfg: AdminConfig): Limits {
  const rl = cfg.rate_limit;
  return {
    anonymous: new RateLimiter({ rate: rl.rate, burst: rl.burst }, rl.max_clients),
    tokens: new RateLimiter({ rate: rl.rate, burst: rl.burst }, rl.max_clients),
    metrics: new RateLimiter({ rate: rl.metrics_rate, burst: rl.metrics_burst }, rl.max_clients),
  };
}

/** Unread request bodies up to this size (by Content-Length) are read and dropped after the answer. */
const DISCARD_MAX = 1024 * 1024;

/**
 * Before an answer to a request whose body was not read (refused, or too large): Node reads
 * and drops the rest of the body after the answer and keeps the connection (so that a client
 * still sending gets its answer instead of a reset). The connection is closed instead when the
 * body was never asked for (a 100 Continue withheld), or when reading it is not worth it: of
 * unknown length or large, from a caller whose token was not accepted, or over DISCARD_MAX.
 */
function closeIfUnread(ctx: Ctx, res: ServerResponse): void {
  const req = ctx.req;
  if (req.complete || res.headersSent) return;
  const length = Number(req.headers['content-length'] ?? 0);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (length === 0 && !chunked) return;
  const large = chunked || length > MAX_BODY;
  if (ctx.withheld || (large && !ctx.authorized) || length > DISCARD_MAX) res.setHeader('connection', 'close');
}

/** Sends a JSON answer unless one was already sent or the client is gone. */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function sendReply(res: ServerResponse, r: Reply): void {
  if (r.contentType === undefined) return sendJson(res, r.status, r.body);
  if (res.headersSent || res.destroyed) return;
  if (r.status === 304) {
    res.writeHead(304, { 'cache-control': 'no-store', ...r.headers });
    res.end();
    return;
  }
  const body = Buffer.isBuffer(r.body) ? r.body : String(r.body);
  res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...r.headers });
  res.end(body);
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof AuditUnavailableError) return new HttpError(503, 'audit_unavailable', err.message);
  if (err instanceof DrProxyError) {
    if (err.code === 'DRP_NOT_FOUND') return new HttpError(404, 'not_found', err.message);
    if (err.code === 'DRP_CONFLICT') return new HttpError(409, 'conflict', err.message);
    if (err.code === 'DRP_DRILL_RUNNING') return new HttpError(409, 'drill_running', err.message);
    if (err.code === 'DRP_DRILL_REFUSED') return new HttpError(409, 'drill_refused', err.message, { reasons: (err as DrProxyError & { reasons?: unknown }).reasons ?? [] });
    if (err.code === 'DRP_DRILL_UNAVAILABLE') return new HttpError(503, 'drills_unavailable', err.message);
    if (err.code === 'DRP_STATE_CONFLICT') return new HttpError(409, 'conflict', err.message);
    if (err.code === 'DRP_SAFETY_RULE') return new HttpError(409, 'safety_rule', err.message, safetyRuleBody(err));
    // Clustered: no leader could carry the action out now, or etcd did not answer; try again.
    if (err.code === 'DRP_NOT_LEADER') return new HttpError(503, 'no_leader', err.message, {}, { 'retry-after': '1' });
    if (err.code === 'DRP_AUDIT_UNAVAILABLE') return new HttpError(503, 'audit_unavailable', err.message);
    if (err.code === 'DRP_LEADER_CHANGED') return new HttpError(503, 'leader_changed', err.message);
    if (err.code.startsWith('DRP_ETCD_')) return new HttpError(503, 'coordinator_unavailable', err.message, {}, { 'retry-after': '1' });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError(500, 'internal', message);
}
