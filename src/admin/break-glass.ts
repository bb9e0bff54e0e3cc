/**
 * Break glass in the admin API (docs/safety.md "Per-flip rules"): `"break_glass": true` (with
 * `"force": true` and the usual `reason`) lets a failover, failback or fence that breaks a
 * tenant's per-flip rule go ahead. When it did break one, the call's audit record says
 * `break_glass: true` with the rules broken, and `safety_rule_tripped` (critical) is emitted.
 */
import type { AdminApi } from './api.js';
import type { Ctx } from './routes.js';
import { HttpError } from './http-error.js';
import type { RuleViolation } from '../failover/flip-rules.js';
import { ruleTrippedEvent } from '../safety/rule-events.js';

/** The body's `break_glass` (validated): it needs `"force": true`. */
export function breakGlassOf(ctx: Ctx): boolean {
  const b = ctx.body.break_glass;
  if (b === undefined) return false;
  if (typeof b !== 'boolean') throw new HttpError(400, 'bad_request', '"break_glass" must be true or false');
  if (b && ctx.body.force !== true) throw new HttpError(400, 'bad_request', '"break_glass": true needs "force": true as well (and a "reason")');
  return b;
}

/** A call that broke `rules` under break glass: its audit record and the notification say so. Returns the answer's fields. */
export function brokeGlass(api: AdminApi, ctx: Ctx, what: { tenant: string; tier: string; from: string; to: string; trigger: string; actor: string; reason: string }, rules: RuleViolation[] | undefined): Record<string, unknown> {
  if (!rules?.length) return {};
  Object.assign(ctx.audit, { break_glass: true, rules_broken: rules.map((r) => r.rule) });
  try {
    api.notifierService?.()?.emit(ruleTrippedEvent({ ...what, action: 'break_glass', violations: rules }, what.tier, Date.now()));
  } catch {
    // A notifier that is not there (or failed to build) never fails the call that was carried out.
  }
  return { break_glass: true, rules_broken: rules };
}
