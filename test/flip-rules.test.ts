/**
 * The per-flip safety rules (src/failover/flip-rules.ts) and the automatic choices that honour
 * them (decide.ts rule 7), as pure functions: config, sites' availability and state in, the
 * rules broken (or the action) out.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';
import type { TenantConfig } from '../src/config/types.js';
import { ableCount, domainAllows, enforce, fenceViolations, flipViolations, SafetyRuleError, type RuleInput } from '../src/failover/flip-rules.js';
import { Availability, autoTarget, decide, landing, notWanted } from '../src/failover/decide.js';
import type { HealthSnapshot } from '../src/failover/site.js';
import type { TenantState } from '../src/state/types.js';

/** Sites a (region A, zone 1), a2 (A, 2), b (B, 1): preference order a, a2, b. */
function config(safety: Record<string, unknown> | undefined): TenantConfig {
  const sites = [
    { name: 'a', region: 'A', zone: '1', backends: ['http://127.0.0.1:1'] },
    { name: 'a2', region: 'A', zone: '2', backends: ['http://127.0.0.2:1'] },
    { name: 'b', region: 'B', zone: '1', backends: ['http://127.0.0.3:1'] },
  ];
  const { config, problems } = validateConfig({ tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites, ...(safety && { safety }) } } }, { baseDir: '/tmp' });
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!.tenants[0]!;
}

const state = (fields: Partial<TenantState> = {}): TenantState => ({ tenant: 't', epoch: 1, phase: 'active', active: 'a', fenced: [], trigger: 'startup', reason: 'test', updated_at: '', ...fields });
const avail = (up: Record<string, boolean>) => Object.entries(up).map(([name, available]) => ({ name, available }));
const input = (cfg: TenantConfig, up: Record<string, boolean>, st = state()): RuleInput => ({ config: cfg, sites: avail(up), state: st });

function health(up: Record<string, boolean>): HealthSnapshot {
  return { at: 1000, sites: Object.entries(up).map(([name, ok]) => ({ name, up: ok ? 1 : 0, down: ok ? 0 : 1, unknown: 0, total: 1, need: 1, available: ok, unavailable: !ok, stale: false, detectionStart: ok ? 0 : 900 })) };
}

describe('min_available_sites', () => {
  const cfg = config({ min_available_sites: 2 });

  it('counts sites available and not fenced', () => {
    expect(ableCount(avail({ a: true, a2: true, b: false }), [])).toBe(2);
    expect(ableCount(avail({ a: true, a2: true, b: true }), ['a2'])).toBe(2);
  });

  it('refuses a flip that fences a healthy site and leaves fewer than N', () => {
    const v = flipViolations(input(cfg, { a: true, a2: false, b: true }), 'a', 'b', true);
    expect(v).toEqual([expect.objectContaining({ rule: 'min_available_sites', required: 2, before: 2, after: 1 })]);
    // Not fencing the old site (an automatic failback), or enough sites left: no violation.
    expect(flipViolations(input(cfg, { a: true, a2: false, b: true }), 'a', 'b', false)).toEqual([]);
    expect(flipViolations(input(cfg, { a: true, a2: true, b: true }), 'a', 'b', true)).toEqual([]);
  });

  it('never refuses a failover off a dead site: it does not lower the count', () => {
    expect(flipViolations(input(cfg, { a: false, a2: false, b: true }), 'a', 'b', true)).toEqual([]);
  });

  it('a flip to a fenced target unfences it (counted after)', () => {
    expect(flipViolations(input(cfg, { a: true, a2: true, b: true }, state({ fenced: ['a2'] })), 'a', 'a2', true)).toEqual([]);
  });

  it('refuses a fence that leaves fewer than N; break glass carries it out with the rules broken', () => {
    const v = fenceViolations(input(cfg, { a: true, a2: true, b: false }), 'a2');
    expect(v).toEqual([expect.objectContaining({ rule: 'min_available_sites', before: 2, after: 1 })]);
    expect(() => enforce(v, 'fencing a2', { force: true })).toThrow(SafetyRuleError);
    expect(() => enforce(v, 'fencing a2', { breakGlass: true })).toThrow(/refused by safety rule min_available_sites/);
    expect(enforce(v, 'fencing a2', { force: true, breakGlass: true })).toBe(v);
    expect(fenceViolations(input(config(undefined), { a: true, a2: true, b: false }), 'a2')).toEqual([]);
  });
});

describe('failure_domain', () => {
  it('region: another region; zone: another zone or region', () => {
    const region = config({ failure_domain: 'region' });
    expect(domainAllows(region, 'a', 'a2')).toBe(false);
    expect(domainAllows(region, 'a', 'b')).toBe(true);
    const zone = config({ failure_domain: 'zone' });
    expect(domainAllows(zone, 'a', 'a2')).toBe(true);
    // Zone "1" in region A and zone "1" in region B are different zones.
    expect(domainAllows(zone, 'a', 'b')).toBe(true);
    expect(domainAllows(config(undefined), 'a', 'a2')).toBe(true);
    expect(flipViolations(input(region, { a: true, a2: true, b: true }), 'a', 'a2', true)).toEqual([expect.objectContaining({ rule: 'failure_domain', domain: 'region', from_domain: 'A', to_domain: 'A' })]);
  });

  it('an automatic failover chooses the other-region site over a more preferred same-region one', () => {
    const cfg = config({ failure_domain: 'region' });
    const h = health({ a: false, a2: true, b: true });
    expect(autoTarget({ health: h, state: state(), config: config(undefined) })?.name).toBe('a2');
    expect(autoTarget({ health: h, state: state(), config: cfg })?.name).toBe('b');
    const d = decide({ tenant: state(), busy: false, lastFlipAt: 0, unavailableSince: 0, availability: new Availability() }, h, 1000, cfg);
    expect(d.action).toMatchObject({ kind: 'flip', to: 'b', trigger: 'health' });
  });

  it('with only a same-region site usable: no flip, no freeze; an alert and a trip to tell once', () => {
    const cfg = config({ failure_domain: 'region' });
    const h = health({ a: false, a2: true, b: false });
    const d = decide({ tenant: state(), busy: false, lastFlipAt: 0, unavailableSince: 0, availability: new Availability() }, h, 1000, cfg);
    expect(d.action).toEqual({ kind: 'none' });
    expect(d.alert).toMatch(/^safety rule failure_domain: active site a is unavailable but the only site that could take over, a2, is in the same region/);
    expect(d.trip).toMatchObject({ tenant: 't', from: 'a', to: 'a2', action: 'refused', violations: [{ rule: 'failure_domain' }] });
    // Without the rule the same health fails over to a2.
    expect(decide({ tenant: state(), busy: false, lastFlipAt: 0, unavailableSince: 0, availability: new Availability() }, h, 1000, config(undefined)).action).toMatchObject({ kind: 'flip', to: 'a2' });
  });

  it('a flip whose target failed mid-way does not land in a forbidden domain; notWanted refuses a forbidden flip', () => {
    const cfg = config({ failure_domain: 'region' });
    // a → b; b failed during the flip, a is down too: a2 (same region as a) is not a landing.
    expect(landing({ health: health({ a: false, a2: true, b: false }), state: state(), config: cfg }, 'a', 'b')).toBe('b');
    expect(landing({ health: health({ a: false, a2: true, b: false }), state: state(), config: config(undefined) }, 'a', 'b')).toBe('a2');
    const v = { health: health({ a: false, a2: true, b: true }), state: state(), config: cfg, lastFlipAt: 0, availability: new Availability() };
    expect(notWanted(v, 'health', 'a2', 1000)).toMatch(/^safety rule failure_domain/);
    expect(notWanted(v, 'health', 'b', 1000)).toBeUndefined();
  });
});
