/**
 * The admin API's safety rules (docs/safety.md):
 *
 *   GET  /automatic        viewer    → {enabled, reason, by, at}
 *   POST /automatic        operator  {enabled: true|false, reason} → the switch as persisted
 *   POST /safety/confirm   operator  {reason} → {released: [tenants]}: a tripped fleet breaker's held flips go
 */
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { reasonOf, type Ctx, type Route } from './routes.js';
import type { ProxySafety } from '../safety/proxy-safety.js';

function only(ctx: Ctx, allowed: string[]): void {
  for (const k of Object.keys(ctx.body)) {
    if (!allowed.includes(k)) throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

export function safetyRoutes(api: AdminApi): Route[] {
  const safety = (): ProxySafety => {
    const s = api.safety?.();
    if (!s) throw new HttpError(503, 'safety_unavailable', 'safety rules are not available on this proxy');
    return s;
  };
  return [
    { method: 'GET', pattern: /^\/automatic$/, role: 'viewer', action: 'automatic_status', handle: () => ({ ...safety().gate.automatic }) },
    {
      method: 'POST',
      pattern: /^\/automatic$/,
      role: 'operator',
      action: 'automatic',
      async handle(ctx) {
        only(ctx, ['enabled', 'reason']);
        const enabled = ctx.body.enabled;
        if (typeof enabled !== 'boolean') throw new HttpError(400, 'bad_request', '"enabled" is required: true (automatic flips on) or false (off)');
        const reason = (ctx.audit.reason = reasonOf(ctx)!);
        ctx.audit.detail = `automatic flips ${enabled ? 'on' : 'off'}`;
        return { ...(await safety().setAutomatic(enabled, ctx.principal?.name ?? 'anonymous', reason)) };
      },
    },
    {
      method: 'POST',
      pattern: /^\/safety\/confirm$/,
      role: 'operator',
      action: 'safety_confirm',
      handle(ctx) {
        only(ctx, ['reason']);
        const reason = (ctx.audit.reason = reasonOf(ctx)!);
        const released = safety().gate.confirm(ctx.principal?.name ?? 'anonymous', reason);
        ctx.audit.detail = `fleet breaker confirmed: ${released.length} held flip(s) released`;
        return { released, count: released.length };
      },
    },
  ];
}
