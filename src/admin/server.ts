/**
 * The admin API, on its own listener (default 127.0.0.1:9901), never on the data-plane port.
 *
 * Unauthenticated: GET /healthz, /readyz, /metrics (unless admin.metrics_auth). Everything
 * else needs `Authorization: Bearer <token>`: viewer for reads, operator for mutations.
 * Mutations are POST with a JSON body (Content-Type: application/json); no cookies are read
 * and no CORS headers are ever sent, so a browser page cannot drive it. Errors are JSON
 * `{error, detail}`. Every call but the probes is audited, allowed or refused.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig, Role } from '../config/types.js';
import { DrProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { roleAllows, type Principal, type TokenStore } from './auth.js';
import type { AuditLog, AuditRecord } from './audit.js';
import type { AdminApi } from './api.js';
import { listen } from '../listen.js';

const MAX_BODY = 64 * 1024;

/** An error answer: HTTP status, stable code, human detail. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

interface Ctx {
  req: IncomingMessage;
  params: string[];
  principal: Principal | undefined;
  body: Record<string, unknown>;
  /** Filled by the handler for the audit record. */
  audit: Partial<AuditRecord>;
}

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Role needed; undefined = no token needed. */
  role: Role | undefined | 'metrics';
  action: string;
  /** Probe endpoints are not audited. */
  quiet?: boolean;
  handle(ctx: Ctx): Promise<unknown> | unknown;
}

const SEG = '([^/]+)';

export class AdminServer {
  readonly server: http.Server;
  private tokens: TokenStore;
  private readonly routes: Route[];

  constructor(
    private readonly cfg: AdminConfig,
    private readonly api: AdminApi,
    tokens: TokenStore,
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {
    this.tokens = tokens;
    this.routes = this.buildRoutes();
    this.server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, maxHeaderSize: 16 * 1024 }, (req, res) => void this.handle(req, res));
  }

  setTokens(tokens: TokenStore): void {
    this.tokens = tokens;
  }

  listen(): Promise<AddressInfo> {
    return listen(this.server, this.cfg.listen.host, this.cfg.listen.port, 'admin');
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private buildRoutes(): Route[] {
    const api = this.api;
    const reason = (ctx: Ctx): string => {
      const r = ctx.body.reason;
      if (typeof r !== 'string' || r.trim() === '') throw new HttpError(400, 'bad_request', '"reason" is required: a non-empty string saying why (it goes to the audit log)');
      if (r.length > 1000) throw new HttpError(400, 'bad_request', '"reason" is longer than 1000 characters');
      return r;
    };
    const only = (ctx: Ctx, allowed: string[]) => {
      for (const k of Object.keys(ctx.body)) {
        if (!allowed.includes(k)) throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: ${allowed.join(', ')})`);
      }
    };
    const force = (ctx: Ctx): boolean => {
      const f = ctx.body.force;
      if (f !== undefined && typeof f !== 'boolean') throw new HttpError(400, 'bad_request', '"force" must be true or false');
      return f === true;
    };
    const tenantOf = (ctx: Ctx) => {
      const name = ctx.params[0]!;
      ctx.audit.tenant = name;
      const t = api.tenant(name);
      if (!t) throw new HttpError(404, 'not_found', `no tenant "${name}"`);
      return t;
    };
    const actor = (ctx: Ctx) => ctx.principal?.name ?? 'anonymous';
    const siteAction = (action: 'fence' | 'unfence'): Route => ({
      method: 'POST',
      pattern: new RegExp(`^/tenants/${SEG}/sites/${SEG}/${action}$`),
      role: 'operator',
      action,
      async handle(ctx) {
        only(ctx, ['reason']);
        const t = tenantOf(ctx);
        const site = (ctx.audit.site = ctx.params[1]!);
        const why = (ctx.audit.reason = reason(ctx));
        ctx.audit.epoch_before = t.state.epoch;
        const s = await t[action](site, { reason: why, actor: actor(ctx) });
        ctx.audit.epoch_after = s.epoch;
        return { tenant: t.name, site, fenced: s.fenced, epoch: s.epoch };
      },
    });
    const backendAction = (action: 'drain' | 'enable'): Route => ({
      method: 'POST',
      pattern: new RegExp(`^/tenants/${SEG}/sites/${SEG}/backends/${SEG}/${action}$`),
      role: 'operator',
      action,
      handle(ctx) {
        only(ctx, ['reason']);
        const t = tenantOf(ctx);
        const site = (ctx.audit.site = ctx.params[1]!);
        const backend = (ctx.audit.backend = ctx.params[2]!);
        ctx.audit.reason = reason(ctx);
        ctx.audit.epoch_before = ctx.audit.epoch_after = t.state.epoch;
        const b = t.setDrained(site, backend, action === 'drain');
        return { tenant: t.name, site, backend, drained: b.drained };
      },
    });
    const flip = (action: 'failover' | 'failback'): Route => ({
      method: 'POST',
      pattern: new RegExp(`^/tenants/${SEG}/${action}$`),
      role: 'operator',
      action,
      async handle(ctx) {
        only(ctx, action === 'failover' ? ['to', 'reason', 'force'] : ['reason', 'force']);
        const t = tenantOf(ctx);
        const to = ctx.body.to;
        if (to !== undefined && typeof to !== 'string') throw new HttpError(400, 'bad_request', '"to" must be a site name');
        const op = { reason: (ctx.audit.reason = reason(ctx)), actor: actor(ctx), force: force(ctx) };
        if (typeof to === 'string') ctx.audit.site = to;
        const before = (ctx.audit.epoch_before = t.state.epoch);
        const r = action === 'failover' ? await t.operatorFailover({ ...op, ...(typeof to === 'string' && { to }) }) : await t.failback(op);
        ctx.audit.epoch_after = r.epoch;
        ctx.audit.site = r.to;
        return {
          tenant: t.name,
          epoch_before: before,
          epoch: r.epoch,
          from: r.from,
          to: r.to,
          result: r.result,
          duration_ms: r.durationMs,
          rto_seconds: r.rtoMs / 1000,
          rto_ratio: r.durationMs / r.rtoMs,
          timings: r.timings,
          ...(r.drain && { drain: r.drain }),
          ...(r.fence && { fence: r.fence }),
          ...(r.promote && { promote: r.promote }),
        };
      },
    });
    return [
      { method: 'GET', pattern: /^\/healthz$/, role: undefined, action: 'healthz', quiet: true, handle: () => ({ status: 'ok' }) },
      {
        method: 'GET',
        pattern: /^\/readyz$/,
        role: undefined,
        action: 'readyz',
        quiet: true,
        handle: () => {
          const r = api.ready();
          if (!r.ready) throw new HttpError(503, 'not_ready', r.reasons.join('; '), { ready: false, reasons: r.reasons });
          return { ready: true };
        },
      },
      { method: 'GET', pattern: /^\/metrics$/, role: 'metrics', action: 'metrics', quiet: true, handle: () => api.metricsText() },
      { method: 'GET', pattern: /^\/status$/, role: 'viewer', action: 'status', handle: () => api.status() },
      {
        method: 'GET',
        pattern: new RegExp(`^/tenants/${SEG}$`),
        role: 'viewer',
        action: 'tenant',
        handle(ctx) {
          tenantOf(ctx);
          return api.tenantStatus(ctx.params[0]!, true);
        },
      },
      flip('failover'),
      flip('failback'),
      siteAction('fence'),
      siteAction('unfence'),
      backendAction('drain'),
      backendAction('enable'),
      {
        method: 'POST',
        pattern: /^\/reload$/,
        role: 'operator',
        action: 'reload',
        async handle(ctx) {
          only(ctx, ['reason']);
          if (ctx.body.reason !== undefined) ctx.audit.reason = String(ctx.body.reason);
          const r = await api.reload();
          if (!r.ok) throw new HttpError(400, 'invalid_config', r.detail, { problems: r.problems });
          return r;
        },
      },
    ];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    let route: Route | undefined;
    let params: string[] = [];
    let methodMismatch = false;
    let badEscape = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method !== req.method && !(r.method === 'GET' && req.method === 'HEAD')) {
        methodMismatch = true;
        continue;
      }
      route = r;
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        badEscape = true; // a malformed %-escape must be a 400, never a crash
      }
      break;
    }
    const principal = this.tokens.authenticate(req.headers.authorization);
    const ctx: Ctx = { req, params, principal, body: {}, audit: {} };
    try {
      if (badEscape) throw new HttpError(400, 'bad_request', `malformed %-escape in ${path}`);
      if (!route) {
        if (methodMismatch) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`);
        throw new HttpError(404, 'not_found', `no admin endpoint ${path}`);
      }
      this.authorize(route, principal, req);
      if (route.method === 'POST') ctx.body = await readJson(req);
      const result = await route.handle(ctx);
      if (typeof result === 'string') {
        res.writeHead(200, { 'content-type': this.api.metricsContentType(), 'cache-control': 'no-store' });
        res.end(result);
      } else {
        sendJson(res, 200, result);
      }
      if (route && !route.quiet) this.auditCall(route, ctx, 'ok', 200);
    } catch (err) {
      const e = toHttpError(err);
      if (e.status >= 500 && e.status !== 503) this.log.error({ err }, `admin ${route?.action ?? path} failed`);
      sendJson(res, e.status, { error: e.code, detail: e.message, ...e.extra });
      if (!route?.quiet) {
        const result = e.status === 401 || e.status === 403 ? 'denied' : 'error';
        this.auditCall(route, ctx, result, e.status, e.message, path);
      }
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

  private auditCall(route: Route | undefined, ctx: Ctx, result: AuditRecord['result'], status: number, detail?: string, path?: string): void {
    this.audit.record({
      action: route?.action ?? `${ctx.req.method} ${path}`,
      actor: ctx.principal?.name ?? 'anonymous',
      ...(ctx.principal && { role: ctx.principal.role }),
      result,
      status,
      remote: ctx.req.socket.remoteAddress,
      ...ctx.audit,
      ...(detail !== undefined && { detail }),
    });
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'mutations take a JSON body: send Content-Type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'payload_too_large', `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'bad_request', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DrProxyError) {
    if (err.code === 'DRP_NOT_FOUND') return new HttpError(404, 'not_found', err.message);
    if (err.code === 'DRP_CONFLICT') return new HttpError(409, 'conflict', err.message);
    if (err.code === 'DRP_STATE_CONFLICT') return new HttpError(409, 'conflict', err.message);
  }
  return new HttpError(500, 'internal', (err as Error).message ?? String(err));
}
