/**
 * Standby readiness (docs/drills.md): could a flip land on this site now? A site is ready when
 * enough of its backends are healthy (its min_healthy), its data age is within the tier's RPO
 * (and known, when the site reports one), its fence and promote hooks answered their last
 * `check` call, and it is not fenced. A function of what the tenant knows now: the readiness
 * monitor keeps the hooks' last answers; preflight, /status and drproxy_site_ready read this.
 */
import type { TenantConfig } from '../config/types.js';
import type { TenantState } from '../state/types.js';
import type { DrillReason } from '../drill/types.js';
import type { SiteRuntime } from './site.js';

/** The last `check` call of one hook; undefined: not checked yet (or checks are off). */
export interface HookCheck {
  ok: boolean;
  at: number;
  error?: string;
}

export interface HookChecks {
  fence?: HookCheck;
  promote?: HookCheck;
}

export type ReadinessCode = 'unavailable' | 'stale' | 'data_age_unknown' | 'fence_hook_unreachable' | 'promote_hook_unreachable' | 'fenced';

export interface SiteReadiness {
  site: string;
  ready: boolean;
  /** Every reason it is not ready (empty when ready); codes are ReadinessCode. */
  reasons: DrillReason[];
}

export interface ReadinessInput {
  site: SiteRuntime;
  config: TenantConfig;
  state: TenantState;
  hooks: HookChecks;
  now: number;
}

export function siteReadiness({ site, config, state, hooks, now }: ReadinessInput): SiteReadiness {
  const reasons: DrillReason[] = [];
  const add = (code: ReadinessCode, message: string): void => void reasons.push({ code, message, site: site.name });
  const h = site.health(now);
  if (!h.available) add('unavailable', `${h.up} of ${h.total} backends healthy, ${h.need} needed (min_healthy)`);
  const age = site.dataAgeSeconds();
  const rpoS = config.tier.rpo / 1000;
  if (age !== undefined && age > rpoS) add('stale', `data age ${age} s is over the ${config.tier.name} RPO of ${rpoS} s`);
  if (age === undefined && site.cfg.health_check.data_age !== undefined) add('data_age_unknown', 'its data age is configured but no health check has reported it');
  for (const kind of ['fence', 'promote'] as const) {
    const c = hooks[kind];
    if (site.cfg[kind] !== undefined && c !== undefined && !c.ok) add(`${kind}_hook_unreachable`, `its ${kind} hook failed its check call${c.error ? `: ${c.error}` : ''}`);
  }
  if (state.fenced.includes(site.name)) add('fenced', 'it is fenced');
  return { site: site.name, ready: reasons.length === 0, reasons };
}

/** What GET /status shows of a site's readiness: `ready`, and every reason it is not. */
export function readinessFields(r: SiteReadiness): { ready: boolean; not_ready: Array<{ code: string; message: string }> } {
  return { ready: r.ready, not_ready: r.reasons.map(({ code, message }) => ({ code, message })) };
}
