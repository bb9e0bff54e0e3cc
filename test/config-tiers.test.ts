import { describe, it, expect } from 'vitest';
import { BUILTIN_TIERS, findTier, builtinTiers, validateConfig, type ConfigProblem } from '../src/config/index.js';

const H = 3_600_000;
const M = 60_000;

function withTiers(tiers: unknown, tier = 'BC'): Record<string, unknown> {
  return {
    ...(tiers === undefined ? {} : { tiers }),
    tenants: {
      acme: {
        tier,
        hosts: ['acme.example.com'],
        sites: [
          { name: 'a1', backends: ['http://10.0.1.10:8080'] },
          { name: 'a2', backends: ['http://10.0.2.10:8080'] },
        ],
      },
    },
  };
}

function run(raw: unknown) {
  return validateConfig(raw, { baseDir: '/tmp' });
}

function only(problems: ConfigProblem[]): string[] {
  return problems.map((p) => `${p.severity} ${p.path}: ${p.message}`);
}

describe('config tiers', () => {
  it('has the four built-in tiers', () => {
    expect(BUILTIN_TIERS.map((t) => [t.name, t.rpo, t.rto])).toEqual([
      ['Basic', 24 * H, 72 * H],
      ['DR3', 24 * H, 24 * H],
      ['DR1', 24 * H, 4 * H],
      ['BC', 15 * M, 15 * M],
    ]);
    expect(findTier(builtinTiers(), 'dr3')?.name).toBe('DR3');
    expect(findTier(builtinTiers(), 'DR2')).toBeUndefined();
  });

  it('matches tier names case-insensitively and keeps the canonical name', () => {
    for (const spelling of ['bc', 'Bc', 'BC']) {
      const { config } = run(withTiers(undefined, spelling));
      expect(config?.tenants[0]!.tier).toEqual({ name: 'BC', rpo: 15 * M, rto: 15 * M, drill_interval: 30 * 24 * H });
    }
    expect(run(withTiers(undefined, 'basic')).config?.tenants[0]!.tier.name).toBe('Basic');
  });

  it('overrides one value of a built-in tier, keeping the other', () => {
    const { config, problems } = run(withTiers({ dr1: { rto: '2h' } }, 'DR1'));
    expect(problems).toEqual([]);
    expect(config!.tiers.DR1).toEqual({ name: 'DR1', rpo: 24 * H, rto: 2 * H, drill_interval: 90 * 24 * H });
    expect(config!.tenants[0]!.tier).toEqual({ name: 'DR1', rpo: 24 * H, rto: 2 * H, drill_interval: 90 * 24 * H });
    expect(Object.keys(config!.tiers)).toEqual(['Basic', 'DR3', 'DR1', 'BC']);
  });

  it('adds a new tier that tenants can use, case-insensitively', () => {
    const { config, problems } = run(withTiers({ Gold: { rpo: '1h', rto: '30m' } }, 'gold'));
    expect(problems).toEqual([]);
    expect(config!.tiers.Gold).toEqual({ name: 'Gold', rpo: H, rto: 30 * M, drill_interval: 365 * 24 * H });
    expect(config!.tenants[0]!.tier.name).toBe('Gold');
  });

  it('needs both rpo and rto for a new tier', () => {
    const { config, problems } = run(withTiers({ Gold: { rpo: '1h' } }));
    expect(config).toBeUndefined();
    expect(only(problems)).toEqual(['error tiers.Gold.rto: required for a new tier (only built-in tiers may be partly overridden)']);
  });

  it('rejects bad tier values', () => {
    const { problems } = run(withTiers({ BC: { rpo: '0s', rto: 'soon', rtt: '1s' } }));
    expect(only(problems)).toEqual([
      'error tiers.BC.rpo: must be more than 0s, got "0s"',
      'error tiers.BC.rto: not a duration: "soon" (use e.g. 500ms, 1s, 15m, 24h)',
      'error tiers.BC.rtt: unknown key (did you mean "rto"?)',
    ]);
    expect(only(run(withTiers({ BC: '15m' })).problems)).toEqual(['error tiers.BC: expected a map, got a string']);
  });

  it('rejects two spellings of the same tier', () => {
    const { problems } = run(withTiers({ BC: { rto: '10m' }, bc: { rto: '5m' } }));
    expect(only(problems)).toEqual(['error tiers.bc: tier "bc" is the same as "BC" (tier names are case-insensitive)']);
  });

  it('warns about an override that changes nothing', () => {
    const { config, problems } = run(withTiers({ BC: {} }));
    expect(config).toBeDefined();
    expect(only(problems)).toEqual(['warning tiers.BC: overrides nothing: give rpo, rto, drill_interval and/or approval']);
  });

  it('lists the known tiers (including configured ones) for an unknown tier', () => {
    const { problems } = run(withTiers({ Gold: { rpo: '1h', rto: '1h' } }, 'DR2'));
    expect(only(problems)).toEqual(['error tenants.acme.tier: unknown tier "DR2" (did you mean "DR3"?); known tiers: Basic, DR3, DR1, BC, Gold']);
  });
});
