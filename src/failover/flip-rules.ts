/**
 * The per-flip safety rules of a tenant (issue 20 item 8; docs/safety.md "Per-flip rules"):
 *
 *   min_available_sites: N   a flip (or a fence) may not leave fewer than N sites able to take
 *                            traffic (available by health and not fenced) when it lowers that
 *                            count; a failover off a dead site lowers nothing and always passes.
 *   failure_domain: region   the target must be in another region than the site being left;
 *                   zone     in another zone (zones are compared within their region).
 *
 * Pure functions of the tenant's config, its sites' availability and its state: the automatic
 * choices (decide.ts) skip targets they forbid, and every flip checks them again inside the
 * serialised flip (operator.ts, tenant-controller.ts). A forced flip or fence that breaks one
 * needs `force` + `break_glass` + a reason, and is recorded as break glass.
 */
import type { TenantConfig } from '../config/types.js';
import { DrProxyError } from '../errors.js';
import type { TenantState } from '../state/types.js';

export type RuleName = 'min_available_sites' | 'failure_domain';

export interface RuleViolation {
  rule: RuleName;
  message: string;
  /** min_available_sites: the rule's N and the count of sites able to take traffic before and after. */
  required?: number;
  before?: number;
  after?: number;
  /** failure_domain: region or zone, and the domains of the site left and of the target. */
  domain?: 'region' | 'zone';
  from_domain?: string;
  to_domain?: string;
}

/** A rule that refused an automatic flip, or that an operator broke under break glass (safety_rule_tripped). */
export interface RuleTrip {
  tenant: string;
  from: string;
  to: string;
  /** The flip's trigger (health, admin, failback, …), or `fence`. */
  trigger: string;
  action: 'refused' | 'break_glass';
  violations: RuleViolation[];
  actor?: string;
  reason?: string;
}

/** What the rules read of the sites: name and availability by health. */
export interface SiteAvailability {
  readonly name: string;
  readonly available: boolean;
}

export interface RuleInput {
  readonly config: Pick<TenantConfig, 'name' | 'sites' | 'safety'>;
  readonly sites: readonly SiteAvailability[];
  readonly state: Pick<TenantState, 'active' | 'fenced'>;
}

/** Sites able to take traffic with these fences: available and not fenced. */
export function ableCount(sites: readonly SiteAvailability[], fenced: readonly string[]): number {
  let n = 0;
  for (const s of sites) if (s.available && !fenced.includes(s.name)) n++;
  return n;
}

/** The failure domain of `site` under the tenant's rule, or undefined when there is no rule. */
export function domainOf(cfg: RuleInput['config'], site: string): string | undefined {
  const d = cfg.safety?.failure_domain;
  const s = cfg.sites.find((x) => x.name === site);
  if (d === undefined || s === undefined) return undefined;
  return d === 'region' ? (s.region ?? '') : `${s.region ?? ''}/${s.zone ?? ''}`;
}

/** The failure-domain rule allows a flip from `from` to `to` (always, when the tenant has no such rule). */
export function domainAllows(cfg: RuleInput['config'], from: string, to: string): boolean {
  if (cfg.safety?.failure_domain === undefined || from === to) return true;
  return domainOf(cfg, from) !== domainOf(cfg, to);
}

function countViolation(i: RuleInput, after: number, what: string): RuleViolation[] {
  const n = i.config.safety?.min_available_sites;
  const before = ableCount(i.sites, i.state.fenced);
  if (n === undefined || after >= n || after >= before) return [];
  return [{ rule: 'min_available_sites', required: n, before, after, message: `${what} would leave ${after} site(s) able to take traffic (${before} now); min_available_sites is ${n}` }];
}

/**
 * The rules a flip from `from` to `to` breaks. `fencesFrom`: the flip fences the site it leaves
 * (decide.ts fencesOldSite); the flip unfences its target.
 */
export function flipViolations(i: RuleInput, from: string, to: string, fencesFrom: boolean): RuleViolation[] {
  const fencedAfter = [...i.state.fenced.filter((s) => s !== to && s !== from), ...(fencesFrom && from !== to ? [from] : [])];
  const out = countViolation(i, ableCount(i.sites, fencedAfter), `the flip ${from} → ${to}`);
  if (!domainAllows(i.config, from, to)) {
    const domain = i.config.safety!.failure_domain!;
    const [fd, td] = [domainOf(i.config, from)!, domainOf(i.config, to)!];
    out.push({ rule: 'failure_domain', domain, from_domain: fd, to_domain: td, message: `target ${to} is in the same ${domain} as ${from} (${td}); failure_domain: ${domain} asks for another` });
  }
  return out;
}

/** The rules fencing `site` breaks (only min_available_sites applies). */
export function fenceViolations(i: RuleInput, site: string): RuleViolation[] {
  const fencedAfter = i.state.fenced.includes(site) ? i.state.fenced : [...i.state.fenced, site];
  return countViolation(i, ableCount(i.sites, fencedAfter), `fencing ${site}`);
}

/** How an operator overrides a rule (the 409 body's `override`). */
export const OVERRIDE_HINT = 'send "force": true and "break_glass": true with a "reason" (CLI: --force --break-glass --reason …) to do it anyway; it is recorded as break glass';

/** A flip or fence refused by a rule (admin API: 409 safety_rule). */
export class SafetyRuleError extends DrProxyError {
  constructor(
    readonly violations: RuleViolation[],
    what: string,
  ) {
    super('DRP_SAFETY_RULE', `${what} refused by safety rule${violations.length > 1 ? 's' : ''} ${violations.map((v) => v.rule).join(', ')}: ${violations.map((v) => v.message).join('; ')}`);
    this.name = 'SafetyRuleError';
  }
}

/**
 * An operator's flip or fence: throws SafetyRuleError when it breaks a rule and is not break
 * glass (force + break_glass); returns the rules broken under break glass ([] when none).
 */
export function enforce(violations: RuleViolation[], what: string, op: { force?: boolean; breakGlass?: boolean }): RuleViolation[] {
  if (violations.length === 0) return [];
  if (op.force === true && op.breakGlass === true) return violations;
  throw new SafetyRuleError(violations, what);
}
