/**
 * A drill's preflight: may this tenant be drilled to this target now? Every reason it may not
 * is found at once (an operator fixes them all, not one per try). A function of the tenant as
 * it is now; nothing is changed.
 */
import { autoTarget } from '../failover/decide.js';
import { siteReadiness, type HookChecks } from '../failover/readiness.js';
import { snapshotSites } from '../failover/site.js';
import { prefixMatches } from '../proxy/router.js';
import type { DrillTenant } from './deps.js';
import type { DrillReason } from './types.js';

export interface PreflightInput {
  tenant: DrillTenant;
  /** The requested target; unset: the site an automatic failover would choose. */
  to?: string | undefined;
  /** A drill of this tenant is running already. */
  running: boolean;
  hooks: (site: string) => HookChecks;
  now: number;
}

export interface Preflight {
  /** The target (also when refused, if one could be named). */
  to?: string;
  reasons: DrillReason[];
  /** The host the synthetic requests carry. */
  host?: string;
}

/** The host a drill verifies with: the tenant's `drill.host`, else its first exact host. */
export function verifyHost(t: DrillTenant): string | undefined {
  return t.config.drill.host ?? t.config.hosts.find((h) => !h.includes('*'));
}

/** The default target: where an automatic failover would go, else the next site in preference order (its readiness says why not). */
export function defaultTarget(t: DrillTenant, now: number): string | undefined {
  const health = snapshotSites(t.sites, now, t.config.tier.rpo);
  const auto = autoTarget({ health, state: t.state, config: t.config });
  return auto?.name ?? t.sites.find((s) => s.name !== t.state.active)?.name;
}

export function preflight({ tenant: t, to: asked, running, hooks, now }: PreflightInput): Preflight {
  const reasons: DrillReason[] = [];
  const add = (code: string, message: string, site?: string): void => void reasons.push({ code, message, ...(site !== undefined && { site }) });
  const s = t.state;
  if (running) add('drill_running', `a drill of ${t.name} is running already`);
  if (s.phase === 'frozen') add('frozen', `the tenant is frozen (${s.frozen_cause ?? 'unknown'}): ${s.reason}`);
  else if (s.phase !== 'active') add('not_active', `the tenant is ${s.phase} (a flip is in progress)`);
  const minInterval = t.config.failover.min_interval;
  if (t.lastFlipAt > 0 && now - t.lastFlipAt < minInterval) {
    add('min_interval', `the last flip was ${Math.round((now - t.lastFlipAt) / 1000)} s ago, within failover.min_interval (${minInterval / 1000} s)`);
  }
  const host = verifyHost(t);
  if (host === undefined) add('no_host', 'the tenant has only wildcard hosts: set its drill.host to verify through the data plane');
  const path = t.config.drill.path;
  if (!t.config.paths.some((prefix) => prefixMatches(prefix, path))) add('verify_path', `drill.path ${path} is outside the tenant's paths (${t.config.paths.join(', ')}): its synthetic requests would not reach it`);
  const to = asked ?? defaultTarget(t, now);
  if (to === undefined) add('no_target', 'the tenant has no other site to drill to');
  else if (!t.site(to)) add('unknown_site', `the tenant has no site ${to}`, to);
  else if (to === s.active) add('same_site', `site ${to} is the active site already`, to);
  else {
    const site = t.site(to)!;
    const r = siteReadiness({ site, config: t.config, state: s, hooks: hooks(to), now });
    reasons.push(...r.reasons);
  }
  // The drill fences the active site on the way out and promotes it on the way back.
  const home = t.site(s.active);
  const checks = home ? hooks(home.name) : {};
  for (const kind of ['fence', 'promote'] as const) {
    const c = checks[kind];
    if (home?.cfg[kind] !== undefined && c !== undefined && !c.ok) add(`${kind}_hook_unreachable`, `the active site's ${kind} hook failed its check call${c.error ? `: ${c.error}` : ''}`, home.name);
  }
  return { ...(to !== undefined && { to }), reasons, ...(host !== undefined && { host }) };
}
