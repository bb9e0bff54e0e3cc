/**
 * A tenant's automatic choices of site, as functions of its sites' health, its persisted state
 * and the clock: where a health failover, a recovery or an auto failback would go, whether a flip
 * decided earlier is still wanted when its turn in the serial queue comes, and where a flip lands
 * when its target fails half-way. The controller acts on them; nothing here changes anything.
 *
 * The rules (issue 16, item 17: `failback: auto` with a flapping preferred site):
 *  1. Availability is tracked on every health change, also while a flip runs: `since` is the
 *     start of a site's current availability, unbroken.
 *  2. Auto failback to a more preferred site needs it available without a break for
 *     failback_after, fresh, and min_interval since the last flip; all checked again when the
 *     flip's turn comes, before its epoch is persisted.
 *  3. min_interval spaces voluntary flips (auto failback). A failover away from an active site
 *     that cannot take traffic, to one that can, is never delayed by it: waiting would hold, then
 *     answer 503 to, every request for min_interval. This cannot ping-pong: a health failover
 *     fences the site it leaves, so the only automatic way back is a failback, which waits
 *     min_interval. With no site to go to, min_interval still delays the `no_site` freeze
 *     (requests are held meanwhile, and a site that becomes available is flipped to at once).
 *  4. An automatic failback leaves a site that is fine, by policy: it does not fence it, so that
 *     when the preferred site fails again the tenant fails over back at once instead of freezing
 *     with its healthy standby fenced. Health, recovery and operator flips fence the site they
 *     leave, as before.
 *  5. A flip checks its target again before anything irreversible: before its epoch is persisted
 *     (an automatic flip no longer wanted does not happen), and after the drain, before any hook
 *     (unless forced). If the target is no longer available there, the flip stays on the old site
 *     when that one is available (at the new epoch, no hook called), else lands on the next
 *     eligible site; with neither it goes on, and these rules decide again once it is routed.
 *     A required hook of an automatic failback that fails while the old site is untouched (its
 *     fence hook failed, or it has none) keeps the traffic there instead of freezing the tenant.
 *     A failback that stayed restarts its target's hold-down: the next try is failback_after
 *     (and min_interval) later, not a loop of flips.
 *  6. The tenant freezes (`no_site`) only if, when its turn in the serial queue comes, its
 *     active site is still unavailable and no site is eligible; it unfreezes only if its active
 *     site is still available then. So it is never frozen while its active site is fine.
 */
import type { TenantConfig } from '../config/types.js';
import type { TenantState } from '../state/types.js';
import type { SiteRuntime } from './site.js';

/** What the decisions read. */
export interface DecisionView {
  readonly sites: readonly SiteRuntime[];
  readonly state: TenantState;
  readonly config: TenantConfig;
  /** When the last flip was routed (0: none since start). */
  readonly lastFlipAt: number;
  readonly availability: Availability;
}

/** Since when each site has been available, unbroken (rule 1). */
export class Availability {
  private readonly since = new Map<string, number>();

  update(sites: readonly SiteRuntime[], now: number): void {
    for (const s of sites) {
      if (!s.health(now).available) this.since.delete(s.name);
      else if (!this.since.has(s.name)) this.since.set(s.name, now);
    }
  }

  /** Count the site's availability from `now` again (a failback to it did not happen). */
  restart(site: string, now: number): void {
    if (this.since.has(site)) this.since.set(site, now);
  }

  /** Take over `prev`'s memory of these sites (a reload: carry-over.ts). */
  carry(prev: Availability, sites: ReadonlySet<string>): void {
    for (const [site, since] of prev.since) if (sites.has(site)) this.since.set(site, since);
  }

  /** Start of the site's current availability, or undefined while it is not available. */
  of(site: string): number | undefined {
    return this.since.get(site);
  }
}

/** Available and fresh: a site an automatic flip may send traffic to, fences aside. */
function usable(v: DecisionView, s: SiteRuntime, now: number): boolean {
  return s.health(now).available && !s.stale(v.config.tier.rpo);
}

/** First site in preference order, other than the active one, that an automatic flip may choose. */
export function autoTarget(v: DecisionView, now: number): SiteRuntime | undefined {
  return v.sites.find((s) => s.name !== v.state.active && !v.state.fenced.includes(s.name) && usable(v, s, now));
}

/** Some other unfenced site could still become available once its backends are first probed. */
export function awaitingFirstResults(v: DecisionView, now: number): boolean {
  return v.sites.some((s) => {
    if (s.name === v.state.active || v.state.fenced.includes(s.name)) return false;
    const h = s.health(now);
    return h.unknown > 0 && !h.unavailable;
  });
}

/** Frozen for no_site: the most preferred usable site, unfenced first; a fenced one only when it is the only way back. */
export function recoveryTarget(v: DecisionView, now: number): SiteRuntime | undefined {
  const candidates = v.sites.filter((s) => usable(v, s, now));
  return candidates.find((s) => !v.state.fenced.includes(s.name)) ?? candidates[0];
}

/**
 * Auto failback (rule 2): the first site more preferred than the active one that is usable, with
 * when the failback to it is due (now or later), or undefined.
 */
export function failbackDue(v: DecisionView): { site: SiteRuntime; at: number } | undefined {
  const f = v.config.failover;
  const activeIndex = v.sites.findIndex((s) => s.name === v.state.active);
  for (const s of v.sites.slice(0, activeIndex)) {
    const since = v.availability.of(s.name);
    if (since === undefined || s.stale(v.config.tier.rpo)) continue;
    return { site: s, at: Math.max(since + f.failback_after, v.lastFlipAt + f.min_interval) };
  }
  return undefined;
}

/**
 * Whether an automatic flip decided earlier is still wanted now that its turn has come (rules
 * 2, 5): undefined when it is, else why not.
 */
export function notWanted(v: DecisionView, trigger: string, to: string, now: number): string | undefined {
  const st = v.state;
  const target = v.sites.find((s) => s.name === to);
  const active = v.sites.find((s) => s.name === st.active);
  if (!target || !active || to === st.active) return `site ${to} is already active`;
  if (!usable(v, target, now)) return `site ${to} is no longer available`;
  if (trigger === 'health') {
    if (st.phase !== 'active' || !active.health(now).unavailable) return `site ${st.active} can take traffic again`;
    if (st.fenced.includes(to)) return `site ${to} is fenced`;
  } else if (trigger === 'failback') {
    const due = failbackDue(v);
    if (st.phase !== 'active' || due?.site !== target || due.at > now) return `site ${to} has not been available for failback_after without a break, or min_interval has not passed`;
  } else if (trigger === 'recovery') {
    if (st.phase !== 'frozen' || st.frozen_cause !== 'no_site') return 'the tenant is no longer frozen';
  }
  return undefined;
}

/**
 * Where a flip from `from` to `to`, drained and not yet fenced or promoted, should land (rule 5):
 * `to` while it is available; else `from` when it is (the flip stays); else the first other
 * eligible site; else `to` all the same.
 */
export function landing(v: DecisionView, from: string, to: string, now: number): string {
  const site = (name: string) => v.sites.find((s) => s.name === name);
  if (site(to)?.health(now).available) return to;
  const old = site(from);
  if (old && from !== to && usable(v, old, now)) return from;
  const next = v.sites.find((s) => s.name !== from && s.name !== to && !v.state.fenced.includes(s.name) && usable(v, s, now));
  return next?.name ?? to;
}

/** Rule 4: an automatic failback does not fence the site it leaves; every other flip does. */
export function fencesOldSite(trigger: string, actor: string | undefined): boolean {
  return !(trigger === 'failback' && actor === undefined);
}
