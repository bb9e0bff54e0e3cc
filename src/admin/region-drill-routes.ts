/**
 * The admin API's region drill endpoint (docs/drills.md, "Region drills"):
 *
 *   POST /drills   operator  {region, parallel? (drills.parallel), dwell? ("30s"), failback? (true), reason}
 *                            → 202 {id, status, region, location}; its summary is GET /drills/:id
 *
 * Clustered, only the leader runs region drills: one asked of a follower is carried out by the
 * leader (a `region_drill` proposal, cluster/drills.ts) and answered with its `running` summary
 * and `forwarded_to`, as single-tenant drills are.
 */
import { MAX_TIMER_MS, parseDuration } from '../config/duration.js';
import type { RegionDrillRequest } from '../drill/region.js';
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { Reply } from './reply.js';
import { reasonOf, type Ctx, type Route } from './routes.js';
import { forwardedTo } from './forwarded-audit.js';

const FIELDS = ['region', 'parallel', 'dwell', 'failback', 'reason'];

function regionBody(ctx: Ctx): Omit<RegionDrillRequest, 'reason' | 'actor'> {
  for (const k of Object.keys(ctx.body)) {
    if (!FIELDS.includes(k)) throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: ${FIELDS.join(', ')})`);
  }
  const { region, parallel, dwell, failback } = ctx.body;
  if (typeof region !== 'string' || region.trim() === '') throw new HttpError(400, 'bad_request', '"region" is required: the region whose tenants are drilled (their active site is in it)');
  if (parallel !== undefined && !(Number.isInteger(parallel) && (parallel as number) >= 1 && (parallel as number) <= 1000)) throw new HttpError(400, 'bad_request', '"parallel" must be a whole number from 1 to 1000');
  if (failback !== undefined && typeof failback !== 'boolean') throw new HttpError(400, 'bad_request', '"failback" must be true or false');
  let ms: number | undefined;
  if (dwell !== undefined) {
    ms = parseDuration(dwell);
    if (ms === undefined || ms > MAX_TIMER_MS) throw new HttpError(400, 'bad_request', `"dwell" must be a duration such as "30s" or "5m", got ${JSON.stringify(dwell)}`);
  }
  return { region, ...(parallel !== undefined && { parallel: parallel as number }), ...(ms !== undefined && { dwell: ms }), failback: failback !== false };
}

export function regionDrillRoutes(api: AdminApi): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/drills$/,
      role: 'operator',
      action: 'region_drill',
      async handle(ctx) {
        const body = regionBody(ctx);
        const reason = (ctx.audit.reason = reasonOf(ctx)!);
        const regions = api.regionDrillService?.();
        if (!regions) throw new HttpError(503, 'drills_unavailable', 'drills are not available on this proxy (no store for drill reports)');
        // Clustered follower: the leader runs the region drill; the record says to whom it went.
        const fwd = forwardedTo(api.clusterRole?.());
        if (fwd !== undefined) ctx.audit.forwarded_to = fwd;
        const r = await regions.start({ ...body, reason, actor: ctx.principal?.name ?? 'anonymous' });
        ctx.audit.detail = `region drill ${r.id} of ${r.region}`;
        return new Reply(202, { id: r.id, status: r.status, region: r.region, parallel: r.parallel, location: `/drills/${r.id}`, ...(fwd !== undefined && { forwarded_to: fwd }) });
      },
    },
  ];
}
