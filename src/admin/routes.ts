/**
 * The admin API's endpoints: method, path pattern, role needed, and what each does. The
 * server (server.ts) matches, limits, authenticates, reads the body and audits; a handler
 * validates its input, fills `ctx.audit`, acts through AdminApi and returns the answer body.
 */
import type { IncomingMessage } from 'node:http';
import type { Role } from '../config/types.js';
import type { Principal } from './auth.js';
import type { AuditRecord } from './audit.js';
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { approvalOf, forwardedTo } from './forwarded-audit.js';
import { drillRoutes } from './drill-routes.js';
import { regionDrillRoutes } from './region-drill-routes.js';
import { safetyRoutes } from './safety-routes.js';
import { notifyRoutes } from './notify-routes.js';
import { breakGlassOf, brokeGlass } from './break-glass.js';
import { consoleRoutes } from '../console/routes.js';
import { auditRoutes } from './audit-routes.js';

export interface Ctx {
  req: IncomingMessage;
  /** The client address, read when the request came in (the socket may be gone later). */
  remote: string;
  path: string;
  params: string[];
  principal: Principal | undefined;
  /** Set once the token and role were accepted: from then on a failure is the caller's action, recorded in full. */
  authorized?: boolean;
  /** The client sent `Expect: 100-continue` and has not been told to send its body. */
  withheld?: boolean;
  body: Record<string, unknown>;
  /** Filled by the handler for the audit record. */
  audit: Partial<AuditRecord>;
}

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Role needed; undefined = no token needed. */
  role: Role | undefined | 'metrics';
  action: string;
  /** Probe endpoints are not audited (their refusals are, summed). */
  quiet?: boolean;
  /** /healthz and /readyz: never rate-limited (see server.ts). */
  probe?: boolean;
  handle(ctx: Ctx): Promise<unknown> | unknown;
}

const SEG = '([^/]+)';

/** "reason": required, a non-empty string of at most 1000 characters. */
export function reasonOf(ctx: Ctx, required = true): string | undefined {
  const r = ctx.body.reason;
  if (r === undefined && !required) return undefined;
  if (typeof r !== 'string' || r.trim() === '') throw new HttpError(400, 'bad_request', '"reason" is required: a non-empty string saying why (it goes to the audit log)');
  if (r.length > 1000) throw new HttpError(400, 'bad_request', '"reason" is longer than 1000 characters');
  return r;
}

export function buildRoutes(api: AdminApi): Route[] {
  const reason = (ctx: Ctx): string => reasonOf(ctx)!;
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
  /** Clustered follower: the leader carries the action out; the record says to whom it went. */
  const forwarding = (ctx: Ctx): { forwarded_to?: string } => {
    const to = forwardedTo(api.clusterRole?.());
    if (to === undefined) return {};
    ctx.audit.forwarded_to = to;
    return { forwarded_to: to };
  };
  const siteAction = (action: 'fence' | 'unfence'): Route => ({
    method: 'POST',
    pattern: new RegExp(`^/tenants/${SEG}/sites/${SEG}/${action}$`),
    role: 'operator',
    action,
    async handle(ctx) {
      only(ctx, action === 'fence' ? ['reason', 'force', 'break_glass'] : ['reason']);
      const t = tenantOf(ctx);
      const site = (ctx.audit.site = ctx.params[1]!);
      const why = (ctx.audit.reason = reason(ctx));
      ctx.audit.epoch_before = t.state.epoch;
      const fwd = forwarding(ctx);
      const op = { reason: why, actor: actor(ctx), force: force(ctx), breakGlass: breakGlassOf(ctx), ...approvalOf(ctx.audit) } as Parameters<typeof t.fence>[1];
      const s = await t[action](site, op);
      ctx.audit.epoch_after = s.epoch;
      const glass = brokeGlass(api, ctx, { tenant: t.name, tier: t.config.tier.name, from: site, to: site, trigger: 'fence', actor: op.actor, reason: why }, op.brokenRules);
      return { tenant: t.name, site, fenced: s.fenced, epoch: s.epoch, ...glass, ...fwd };
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
      // No state change (no hook): the console's open streams learn of it here.
      api.console?.()?.changes.mark(t.name);
      return { tenant: t.name, site, backend, drained: b.drained };
    },
  });
  const flip = (action: 'failover' | 'failback'): Route => ({
    method: 'POST',
    pattern: new RegExp(`^/tenants/${SEG}/${action}$`),
    role: 'operator',
    action,
    async handle(ctx) {
      only(ctx, action === 'failover' ? ['to', 'reason', 'force', 'break_glass'] : ['reason', 'force', 'break_glass']);
      const t = tenantOf(ctx);
      const to = ctx.body.to;
      if (to !== undefined && typeof to !== 'string') throw new HttpError(400, 'bad_request', '"to" must be a site name');
      const op = { reason: (ctx.audit.reason = reason(ctx)), actor: actor(ctx), force: force(ctx), breakGlass: breakGlassOf(ctx), ...approvalOf(ctx.audit) };
      if (typeof to === 'string') ctx.audit.site = to;
      const before = (ctx.audit.epoch_before = t.state.epoch);
      const fwd = forwarding(ctx);
      const r = action === 'failover' ? await t.operatorFailover({ ...op, ...(typeof to === 'string' && { to }) }) : await t.failback(op);
      ctx.audit.epoch_after = r.epoch;
      ctx.audit.site = r.to;
      const glass = brokeGlass(api, ctx, { tenant: t.name, tier: r.tier, from: r.from, to: r.to, trigger: r.trigger, actor: op.actor, reason: op.reason }, r.rules_broken);
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
        ...glass,
        ...fwd,
      };
    },
  });
  return [
    { method: 'GET', pattern: /^\/healthz$/, role: undefined, action: 'healthz', quiet: true, probe: true, handle: () => ({ status: 'ok' }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      role: undefined,
      action: 'readyz',
      quiet: true,
      probe: true,
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
    ...drillRoutes(api),
    ...regionDrillRoutes(api),
    ...safetyRoutes(api),
    ...notifyRoutes(api),
    ...consoleRoutes(api),
    ...auditRoutes(api),
    {
      method: 'POST',
      pattern: /^\/reload$/,
      role: 'operator',
      action: 'reload',
      async handle(ctx) {
        only(ctx, ['reason']);
        const why = reasonOf(ctx, false);
        if (why !== undefined) ctx.audit.reason = why;
        const r = await api.reload();
        if (!r.ok) throw new HttpError(400, 'invalid_config', r.detail, { problems: r.problems });
        return r;
      },
    },
  ];
}
