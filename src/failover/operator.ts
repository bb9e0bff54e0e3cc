/**
 * The checks and state changes of the operator's actions (admin API): which site a forced
 * failover goes to, whether a target may be chosen, what fencing or unfencing a site commits.
 * Functions of the tenant as it is now; the controller serialises and carries them out.
 */
import type { TenantConfig } from '../config/types.js';
import { DrProxyError } from '../errors.js';
import type { StateChange } from '../state/coordinator.js';
import type { TenantState } from '../state/types.js';
import type { BackendRuntime, SiteRuntime, SiteSnapshot } from './site.js';
import type { FlipRequest } from './flip-runner.js';
import { enforce, fenceViolations, flipViolations, type RuleInput, type RuleViolation } from './flip-rules.js';

export interface OperatorRequest {
  reason: string;
  actor: string;
  force?: boolean;
  /** With `force`: carry out a flip or fence that breaks a per-flip safety rule (flip-rules.ts), recorded as break glass. */
  breakGlass?: boolean;
  /** Set by a fence carried out under break glass: the rules it broke. */
  brokenRules?: RuleViolation[];
}

/** What the checks read of a tenant. */
export interface OperatorView {
  readonly name: string;
  readonly sites: readonly SiteRuntime[];
  readonly state: TenantState;
  readonly config: TenantConfig;
}

export function requireSite(v: OperatorView, name: string): SiteRuntime {
  const s = v.sites.find((x) => x.name === name);
  if (!s) throw new DrProxyError('DRP_NOT_FOUND', `tenant ${v.name} has no site ${name}`);
  return s;
}

/** A forced failover without a target: `auto` (the site an automatic flip would choose), else the next unfenced site. */
export function nextSite(v: OperatorView, auto: SiteSnapshot | undefined): string {
  const next = auto ?? v.sites.find((s) => s.name !== v.state.active && !v.state.fenced.includes(s.name));
  if (!next) throw new DrProxyError('DRP_CONFLICT', `tenant ${v.name} has no other unfenced site to fail over to`);
  return next.name;
}

/** Throws when an operator's flip may not go to `to` (unless forced: only when `to` is already active). */
export function checkTarget(v: OperatorView, to: string, force: boolean, fencedOk: boolean): void {
  const site = requireSite(v, to);
  if (to === v.state.active && v.state.phase === 'active') throw new DrProxyError('DRP_CONFLICT', `site ${to} is already active`);
  if (force) return;
  if (!fencedOk && v.state.fenced.includes(to)) {
    throw new DrProxyError('DRP_CONFLICT', `site ${to} is fenced: unfence it first, or pass "force": true`);
  }
  if (site.stale(v.config.tier.rpo)) {
    throw new DrProxyError('DRP_CONFLICT', `site ${to} is stale (data older than the ${v.config.tier.name} RPO): pass "force": true to fail over anyway`);
  }
  if (!site.health().available) {
    throw new DrProxyError('DRP_CONFLICT', `site ${to} is not available (too few healthy backends): pass "force": true to fail over anyway`);
  }
}

/** What the per-flip rules read of the tenant now. */
function ruleInput(v: OperatorView): RuleInput {
  return { config: v.config, sites: v.sites.map((s) => ({ name: s.name, available: s.health().available })), state: v.state };
}

/** Inside the serialised flip: the per-flip rules, against the state the previous flip left (operator flips fence the site they leave). */
function checkRules(v: OperatorView, req: FlipRequest, op: OperatorRequest): void {
  const broken = enforce(flipViolations(ruleInput(v), v.state.active, req.to, true), `${req.trigger === 'failback' ? 'failback' : 'failover'} ${v.state.active} → ${req.to}`, op);
  if (broken.length > 0) req.brokenRules = broken;
}

/** An operator's forced failover: to `op.to`, else where an automatic flip would go (`auto`), else the next unfenced site; checked again inside the serialised flip. */
export function failoverRequest(v: OperatorView, op: OperatorRequest & { to?: string }, auto: () => SiteSnapshot | undefined): FlipRequest {
  if (op.to !== undefined) requireSite(v, op.to);
  const to = op.to ?? nextSite(v, auto());
  const force = op.force === true;
  const req: FlipRequest = { to, trigger: 'admin', reason: op.reason, actor: op.actor, force };
  req.check = () => (checkTarget(v, to, force, false), checkRules(v, req, op));
  return req;
}

/** A planned failback to the preferred (first) site. */
export function failbackRequest(v: OperatorView, op: OperatorRequest): FlipRequest {
  const to = v.sites[0]!.name;
  const force = op.force === true;
  const req: FlipRequest = { to, trigger: 'failback', reason: op.reason, actor: op.actor, force };
  req.check = () => (checkFailback(v, to, force), checkRules(v, req, op));
  return req;
}

export function requireBackend(v: OperatorView, site: string, backend: string): BackendRuntime {
  const b = requireSite(v, site).backends.find((x) => x.backend.name === backend);
  if (!b) throw new DrProxyError('DRP_NOT_FOUND', `site ${site} of tenant ${v.name} has no backend ${backend}`);
  return b;
}

/** A planned failback to the preferred site `to`: it may be fenced (the flip unfences it). */
export function checkFailback(v: OperatorView, to: string, force: boolean): void {
  if (v.state.active === to && v.state.phase === 'active') throw new DrProxyError('DRP_CONFLICT', `the preferred site ${to} is already active`);
  checkTarget(v, to, force, true);
}

/** The change that fences `site`, or undefined when it is fenced already. */
export function fenceChange(v: OperatorView, site: string, op: OperatorRequest): StateChange | undefined {
  requireSite(v, site);
  const s = v.state;
  if (s.active === site && s.phase !== 'frozen') throw new DrProxyError('DRP_CONFLICT', `site ${site} is active: fail over first`);
  if (s.fenced.includes(site)) return undefined;
  const broken = enforce(fenceViolations(ruleInput(v), site), `fencing ${site}`, op);
  if (broken.length > 0) op.brokenRules = broken;
  return { ...strip(s), fenced: [...s.fenced, site], trigger: 'admin', reason: op.reason };
}

/** The change that lifts `site`'s fence, or undefined when it is not fenced. */
export function unfenceChange(v: OperatorView, site: string, op: OperatorRequest): StateChange | undefined {
  requireSite(v, site);
  const s = v.state;
  if (!s.fenced.includes(site)) return undefined;
  return { ...strip(s), fenced: s.fenced.filter((f) => f !== site), trigger: 'admin', reason: op.reason };
}

function strip(s: TenantState): StateChange {
  const { tenant: _t, updated_at: _u, ...rest } = s;
  return rest;
}
