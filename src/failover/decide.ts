/**
 * A tenant's automatic choices of site, as functions of its sites' health, its persisted state
 * and the clock: where a health failover, a recovery or an auto failback would go, whether a flip
 * decided earlier is still wanted when its turn in the serial queue comes, and where a flip lands
 * when its target fails half-way; and `decide()`, which puts them together into the one action
 * a tenant should take now. All pure: they read a health snapshot (site.ts), the persisted state
 * and the controller's memory, and return what to do; the controller acts on it.
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
 *  7. Per-flip rules (flip-rules.ts): an automatic flip never chooses a target in the failure
 *     domain of the site it leaves (tenant `safety.failure_domain`), nor a recovery that breaks
 *     min_available_sites. When only forbidden sites could take over, the tenant neither flips
 *     nor freezes: it stays as it is with an alert (and one safety_rule_tripped notification).
 */
import type { TenantConfig } from '../config/types.js';
import type { TenantState } from '../state/types.js';
import type { HealthSnapshot, SiteSnapshot } from './site.js';
import { domainAllows, flipViolations, type RuleTrip } from './flip-rules.js';

/** What the choice of a target reads. */
export interface TargetView {
  readonly health: HealthSnapshot;
  readonly state: TenantState;
  readonly config: TenantConfig;
}

/** What the decisions read. */
export interface DecisionView extends TargetView {
  /** When the last flip was routed (0: none since start). */
  readonly lastFlipAt: number;
  readonly availability: Availability;
}

/** Since when each site has been available, unbroken (rule 1). Immutable: changes return a new one. */
export class Availability {
  constructor(private readonly since: ReadonlyMap<string, number> = new Map()) {}

  /** The memory after seeing `health`: a site that is not available forgets its start. */
  observe(health: HealthSnapshot): Availability {
    let next: Map<string, number> | undefined;
    for (const s of health.sites) {
      const had = this.since.has(s.name);
      if (had === s.available) continue;
      next ??= new Map(this.since);
      if (s.available) next.set(s.name, health.at);
      else next.delete(s.name);
    }
    return next === undefined ? this : new Availability(next);
  }

  /**
   * Count the site's availability from `at` again (a failback to it did not happen). A start
   * later than `at` (the site came back after it) stands.
   */
  restart(site: string, at: number): Availability {
    const since = this.since.get(site);
    if (since === undefined || since >= at) return this;
    return new Availability(new Map(this.since).set(site, at));
  }

  /** `prev`'s memory of these sites (a reload: carry-over.ts). */
  static carried(prev: Availability, sites: ReadonlySet<string>): Availability {
    return new Availability(new Map([...prev.since].filter(([site]) => sites.has(site))));
  }

  /** Start of the site's current availability, or undefined while it is not available. */
  of(site: string): number | undefined {
    return this.since.get(site);
  }
}

export function siteOf(health: HealthSnapshot, name: string): SiteSnapshot | undefined {
  return health.sites.find((s) => s.name === name);
}

/** Available and fresh: a site an automatic flip may send traffic to, fences aside. */
function usable(s: SiteSnapshot): boolean {
  return s.available && !s.stale;
}

/** First site in preference order, other than the active one, that an automatic flip may choose. */
export function autoTarget(v: TargetView): SiteSnapshot | undefined {
  return v.health.sites.find((s) => s.name !== v.state.active && !v.state.fenced.includes(s.name) && usable(s) && domainAllows(v.config, v.state.active, s.name));
}

/** Rule 7: the first site an automatic failover would take but the tenant's failure_domain rule forbids. */
function forbiddenTarget(v: TargetView): SiteSnapshot | undefined {
  return v.health.sites.find((s) => s.name !== v.state.active && !v.state.fenced.includes(s.name) && usable(s));
}

/** Some other unfenced site could still become available once its backends are first probed. */
export function awaitingFirstResults(v: TargetView): boolean {
  return v.health.sites.some((s) => s.name !== v.state.active && !v.state.fenced.includes(s.name) && s.unknown > 0 && !s.unavailable);
}

/** Frozen for no_site: the most preferred usable site, unfenced first; a fenced one only when it is the only way back. */
export function recoveryTarget(v: TargetView): SiteSnapshot | undefined {
  // Rule 7: a recovery fences the site it leaves; the per-flip rules may keep it on its own site.
  const allowed = (s: SiteSnapshot) => s.name === v.state.active || flipViolations({ config: v.config, sites: v.health.sites, state: v.state }, v.state.active, s.name, true).length === 0;
  const candidates = v.health.sites.filter((s) => usable(s) && allowed(s));
  return candidates.find((s) => !v.state.fenced.includes(s.name)) ?? candidates[0];
}

/**
 * Auto failback (rule 2): the first site more preferred than the active one that is usable, with
 * when the failback to it is due (now or later), or undefined.
 */
export function failbackDue(v: DecisionView): { site: SiteSnapshot; at: number } | undefined {
  const f = v.config.failover;
  const sites = v.health.sites;
  const activeIndex = sites.findIndex((s) => s.name === v.state.active);
  for (const s of sites.slice(0, activeIndex)) {
    const since = v.availability.of(s.name);
    if (since === undefined || s.stale || !domainAllows(v.config, v.state.active, s.name)) continue;
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
  const target = siteOf(v.health, to);
  const active = siteOf(v.health, st.active);
  if (!target || !active || to === st.active) return `site ${to} is already active`;
  if (!usable(target)) return `site ${to} is no longer available`;
  if (trigger === 'health') {
    if (st.phase !== 'active' || !active.unavailable) return `site ${st.active} can take traffic again`;
    if (st.fenced.includes(to)) return `site ${to} is fenced`;
  } else if (trigger === 'failback') {
    const due = failbackDue(v);
    if (st.phase !== 'active' || due?.site.name !== to || due.at > now) return `site ${to} has not been available for failback_after without a break, or min_interval has not passed`;
  } else if (trigger === 'recovery') {
    if (st.phase !== 'frozen' || st.frozen_cause !== 'no_site') return 'the tenant is no longer frozen';
  }
  // Rule 7, against the state the previous flip left: the next decision chooses again.
  const broken = flipViolations({ config: v.config, sites: v.health.sites, state: st }, st.active, to, fencesOldSite(trigger, undefined));
  if (broken.length > 0) return `safety rule ${broken.map((b) => b.rule).join(', ')}: ${broken.map((b) => b.message).join('; ')}`;
  return undefined;
}

/**
 * Where a flip from `from` to `to`, drained and not yet fenced or promoted, should land (rule 5):
 * `to` while it is available; else `from` when it is (the flip stays); else the first other
 * eligible site; else `to` all the same.
 */
export function landing(v: TargetView, from: string, to: string): string {
  if (siteOf(v.health, to)?.available) return to;
  const old = siteOf(v.health, from);
  if (old && from !== to && usable(old)) return from;
  const next = v.health.sites.find((s) => s.name !== from && s.name !== to && !v.state.fenced.includes(s.name) && usable(s) && domainAllows(v.config, from, s.name));
  return next?.name ?? to;
}

/** Rule 6: a `no_site` freeze decided earlier still stands now that its turn has come. */
export function freezeStillDue(v: TargetView): boolean {
  return v.state.phase === 'active' && siteOf(v.health, v.state.active)!.unavailable && !autoTarget(v);
}

/** Rule 6: an unfreeze decided earlier still stands now that its turn has come. */
export function unfreezeStillDue(v: TargetView): boolean {
  const s = v.state;
  return s.phase === 'frozen' && s.frozen_cause === 'no_site' && siteOf(v.health, s.active)!.available;
}

/**
 * Rule 4: an automatic failback does not fence the site it leaves; nor does a drill's flip
 * (it leaves a site that is fine, and is its way back: requests that fail on the target are
 * held for it, and a required hook that fails keeps the traffic where it was). Every other
 * flip does.
 */
export function fencesOldSite(trigger: string, actor: string | undefined): boolean {
  return !((trigger === 'failback' && actor === undefined) || trigger === 'drill');
}

/** What the controller remembers between decisions (carried over a reload: carry-over.ts). */
export interface DecisionMemory {
  /** When the last flip was routed (min_interval), 0 before the first. */
  readonly lastFlipAt: number;
  /** Since when the active site has been unavailable (trip_after), or 0. */
  readonly unavailableSince: number;
  /** Since when each site has been available, unbroken (auto failback hold-down). */
  readonly availability: Availability;
}

/** The memory once a flip landed at `at`; `stayedOff`: its target, whose failback hold-down starts again. */
export function landedMemory(m: DecisionMemory, at: number, stayedOff?: string): DecisionMemory {
  const availability = stayedOff === undefined ? m.availability : m.availability.restart(stayedOff, at);
  return { lastFlipAt: at, unavailableSince: 0, availability };
}

export interface DecisionState extends DecisionMemory {
  /** The committed state (phase, active site, fences). */
  readonly tenant: TenantState;
  /**
   * A flip is queued or running, or decisions are paused (reload): nothing is decided, only the
   * availability is tracked (a failback needs its site available without a break, rule 1).
   */
  readonly busy: boolean;
}

/** An automatic flip: health failover, recovery from a no_site freeze, auto failback. */
export interface FlipAction {
  kind: 'flip';
  to: string;
  trigger: 'health' | 'recovery' | 'failback';
  reason: string;
  /** Detection start (detection-start.ts); the decision's `now` when the flip has no outage. */
  detectedAt: number;
}

export type Action =
  | { kind: 'none' }
  /** Decide again at `until` (trip_after, min_interval, a failback hold-down ends). */
  | { kind: 'wait'; until: number }
  | FlipAction
  /** Nothing can take traffic (rule 6: checked again when its turn comes). */
  | { kind: 'freeze'; cause: 'no_site'; reason: string }
  /** Frozen for no_site and the active site is back (rule 6: checked again when its turn comes). */
  | { kind: 'unfreeze'; reason: string };

export interface Decision {
  action: Action;
  /** The alert the tenant is in: a message, '' when none any more, undefined: as it was. */
  alert?: string;
  /** Rule 7: the alert is an automatic failover refused by a per-flip rule (told once: safety_rule_tripped). */
  trip?: RuleTrip;
  /** The memory after this decision. */
  memory: DecisionMemory;
}

const NONE: Action = Object.freeze({ kind: 'none' });

/**
 * What the tenant should do now, from its state, its sites' health at `now` and its config.
 * Pure: it changes nothing; the returned memory replaces the state's.
 */
export function decide(state: DecisionState, health: HealthSnapshot, now: number, config: TenantConfig): Decision {
  const availability = state.availability.observe(health);
  const memory: DecisionMemory = { lastFlipAt: state.lastFlipAt, unavailableSince: state.unavailableSince, availability };
  if (state.busy) return { action: NONE, memory };
  const st = state.tenant;
  const v: DecisionView = { health, state: st, config, lastFlipAt: state.lastFlipAt, availability };
  if (st.phase === 'frozen') return { action: st.frozen_cause === 'no_site' ? recovery(v, now) : NONE, memory };
  const active = siteOf(health, st.active)!;
  if (!active.unavailable) {
    const f = config.failover;
    const action = f.mode === 'auto' && f.failback === 'auto' ? failback(v, now) : NONE;
    return { action, alert: '', memory: { ...memory, unavailableSince: 0 } };
  }
  return whileUnavailable(v, active, now, { ...memory, unavailableSince: state.unavailableSince || now });
}

/** The active site cannot take traffic: wait for trip_after, fail over, or freeze (rules 3, 6). */
function whileUnavailable(v: DecisionView, active: SiteSnapshot, now: number, memory: DecisionMemory): Decision {
  const f = v.config.failover;
  if (f.mode === 'manual') {
    return { action: NONE, alert: `active site ${active.name} is unavailable and the tenant is in manual mode: waiting for an operator`, memory };
  }
  const tripAt = memory.unavailableSince + f.trip_after;
  if (tripAt > now) return { action: { kind: 'wait', until: tripAt }, memory };
  // min_interval never delays a failover to an available site (rule 3)...
  const target = autoTarget(v);
  if (target) {
    const reason = `site ${active.name} unavailable (${active.up}/${active.total} backends up, ${active.need} needed)`;
    return { action: { kind: 'flip', to: target.name, trigger: 'health', reason, detectedAt: active.detectionStart || now }, memory };
  }
  const freezeAt = v.lastFlipAt + f.min_interval;
  if (v.lastFlipAt !== 0 && freezeAt > now) {
    // ...but with none, it delays the freeze (requests are held meanwhile), as it always has.
    const alert = `active site ${active.name} is unavailable and no other site can take over; freezing in ${Math.ceil((freezeAt - now) / 1000)}s (min_interval)`;
    return { action: { kind: 'wait', until: freezeAt }, alert, memory };
  }
  if (awaitingFirstResults(v)) {
    // Another site has not been probed yet (start-up): hold requests and decide on its first
    // result rather than freeze now and recover a moment later.
    return { action: NONE, alert: `active site ${active.name} is unavailable; waiting for the first health results of the other sites`, memory };
  }
  const blocked = forbiddenTarget(v);
  if (blocked) return refusedByDomain(v, active, blocked, memory);
  const reason = `no site can take traffic: ${active.name} is unavailable and no other site is available, unfenced and fresh`;
  return { action: { kind: 'freeze', cause: 'no_site', reason }, memory };
}

/**
 * Rule 7: the only sites that could take over are in the active site's failure domain: no flip,
 * no freeze (an operator may break glass); the tenant stays as it is, alerted, until a site in
 * another domain is usable or its own site is back.
 */
function refusedByDomain(v: DecisionView, active: SiteSnapshot, blocked: SiteSnapshot, memory: DecisionMemory): Decision {
  const violations = flipViolations({ config: v.config, sites: v.health.sites, state: v.state }, active.name, blocked.name, true);
  const alert = `safety rule failure_domain: active site ${active.name} is unavailable but the only site that could take over, ${blocked.name}, is in the same ${v.config.safety!.failure_domain}: automatic failover refused; the tenant stays on ${active.name} (requests held, then 503) until a site in another ${v.config.safety!.failure_domain} is available or an operator breaks glass (force + break_glass)`;
  return { action: NONE, alert, trip: { tenant: v.config.name, from: active.name, to: blocked.name, trigger: 'health', action: 'refused', violations }, memory };
}

/** Frozen because nothing was available: go to the most preferred site that is back. */
function recovery(v: DecisionView, now: number): Action {
  const target = recoveryTarget(v);
  if (!target) return NONE;
  const reason = `site ${target.name} is available again`;
  if (target.name === v.state.active) return { kind: 'unfreeze', reason };
  return { kind: 'flip', to: target.name, trigger: 'recovery', reason, detectedAt: now };
}

/** Auto failback: a more preferred site has been available for failback_after (rule 2). */
function failback(v: DecisionView, now: number): Action {
  const due = failbackDue(v);
  if (!due) return NONE;
  if (due.at > now) return { kind: 'wait', until: due.at };
  const reason = `preferred site ${due.site.name} healthy for ${v.config.failover.failback_after}ms (auto failback)`;
  return { kind: 'flip', to: due.site.name, trigger: 'failback', reason, detectedAt: now };
}
