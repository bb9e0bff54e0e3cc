/**
 * The admin API's drill endpoints (docs/drills.md):
 *
 *   POST /tenants/:t/drills   operator  {to?, dwell? ("30s"), failback? (true), reason} → 202 {id, status, location}
 *                                       refused → 409 {error: "drill_refused", reasons: [...]}
 *   GET  /drills?tenant=&limit=  viewer  newest first
 *   GET  /drills/:id          viewer  the report; ?format=markdown → text/markdown (when a renderer exists)
 */
import { MAX_TIMER_MS, parseDuration } from '../config/duration.js';
import type { DrillService } from '../drill/service.js';
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { Reply } from './reply.js';
import { reasonOf, type Ctx, type Route } from './routes.js';

const SEG = '([^/]+)';
const DRILL_FIELDS = ['to', 'dwell', 'failback', 'reason'];

function service(api: AdminApi): DrillService {
  const s = api.drillService?.();
  if (!s) throw new HttpError(503, 'drills_unavailable', 'drills are not available on this proxy (no store for drill reports)');
  return s;
}

function query(ctx: Ctx): URLSearchParams {
  return new URL(ctx.req.url ?? '/', 'http://x').searchParams;
}

/** The body of POST /tenants/:t/drills, checked. */
function drillBody(ctx: Ctx): { to?: string; dwell?: number; failback: boolean } {
  for (const k of Object.keys(ctx.body)) {
    if (!DRILL_FIELDS.includes(k)) throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: ${DRILL_FIELDS.join(', ')})`);
  }
  const { to, dwell, failback } = ctx.body;
  if (to !== undefined && (typeof to !== 'string' || to.trim() === '')) throw new HttpError(400, 'bad_request', '"to" must be a site name');
  if (failback !== undefined && typeof failback !== 'boolean') throw new HttpError(400, 'bad_request', '"failback" must be true or false');
  let ms: number | undefined;
  if (dwell !== undefined) {
    ms = parseDuration(dwell);
    if (ms === undefined || ms > MAX_TIMER_MS) throw new HttpError(400, 'bad_request', `"dwell" must be a duration such as "30s" or "5m", got ${JSON.stringify(dwell)}`);
  }
  return { ...(typeof to === 'string' && { to }), ...(ms !== undefined && { dwell: ms }), failback: failback !== false };
}

export function drillRoutes(api: AdminApi): Route[] {
  return [
    {
      method: 'POST',
      pattern: new RegExp(`^/tenants/${SEG}/drills$`),
      role: 'operator',
      action: 'drill',
      async handle(ctx) {
        const name = (ctx.audit.tenant = ctx.params[0]!);
        const body = drillBody(ctx);
        const reason = (ctx.audit.reason = reasonOf(ctx)!);
        if (body.to !== undefined) ctx.audit.site = body.to;
        const t = api.tenant(name);
        if (!t) throw new HttpError(404, 'not_found', `no tenant "${name}"`);
        ctx.audit.epoch_before = t.state.epoch;
        const r = await service(api).start({ tenant: name, ...body, reason, actor: ctx.principal?.name ?? 'anonymous', trigger: 'operator' });
        ctx.audit.detail = `drill ${r.id}: ${r.from} → ${r.to ?? '?'}`;
        ctx.audit.site = r.to;
        return new Reply(202, { id: r.id, status: r.status, tenant: r.tenant, from: r.from, to: r.to, location: `/drills/${r.id}` });
      },
    },
    {
      method: 'GET',
      pattern: /^\/drills$/,
      role: 'viewer',
      action: 'drills',
      async handle(ctx) {
        const q = query(ctx);
        const tenant = q.get('tenant') ?? undefined;
        const limitText = q.get('limit');
        const limit = limitText === null ? 100 : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, 'bad_request', '"limit" must be a whole number from 1 to 10000');
        return { drills: await service(api).list({ ...(tenant && { tenant }), limit }) };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/drills/${SEG}$`),
      role: 'viewer',
      action: 'drill_report',
      async handle(ctx) {
        const s = service(api);
        const r = await s.get(ctx.params[0]!);
        if (!r) throw new HttpError(404, 'not_found', `no drill "${ctx.params[0]}"`);
        if (query(ctx).get('format') !== 'markdown') return r;
        const md = s.markdown(r);
        if (md === undefined) throw new HttpError(406, 'not_acceptable', 'this proxy has no Markdown renderer for reports: ask for JSON');
        return new Reply(200, md, 'text/markdown; charset=utf-8');
      },
    },
  ];
}
