/**
 * Config of two-person approval: `approval: two_person` on a tier or a tenant (a tenant's
 * `none` lifts its tier's), admin.approval_timeout (default 15m); bad values name their path.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';

function doc(extra: { tiers?: unknown; acme?: Record<string, unknown>; admin?: unknown } = {}): Record<string, unknown> {
  const sites = [
    { name: 'a1', backends: ['http://10.0.1.10:8080'] },
    { name: 'a2', backends: ['http://10.0.2.10:8080'] },
  ];
  return {
    ...(extra.admin !== undefined && { admin: extra.admin }),
    ...(extra.tiers !== undefined && { tiers: extra.tiers }),
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites, ...extra.acme },
      beta: { tier: 'BC', hosts: ['beta.example.com'], sites },
      gamma: { tier: 'DR1', hosts: ['gamma.example.com'], sites },
    },
  };
}

const run = (raw: unknown) => validateConfig(raw, { baseDir: '/tmp' });

describe('approval config', () => {
  it('marks every tenant of a marked tier, lets a tenant opt out with none, and defaults the timeout to 15m', () => {
    const { config, problems } = run(doc({ tiers: { BC: { approval: 'two_person' } }, acme: { approval: 'none' } }));
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const by = Object.fromEntries(config!.tenants.map((t) => [t.name, t.approval]));
    expect(by).toEqual({ acme: undefined, beta: 'two_person', gamma: undefined });
    expect(config!.tiers.BC!.approval).toBe('two_person');
    expect(config!.admin.approval_timeout).toBe(15 * 60_000);
  });

  it('marks a single tenant, and reads admin.approval_timeout', () => {
    const { config } = run(doc({ acme: { approval: 'two_person' }, admin: { approval_timeout: '2m' } }));
    expect(config!.tenants.find((t) => t.name === 'acme')!.approval).toBe('two_person');
    expect(config!.tenants.find((t) => t.name === 'beta')!.approval).toBeUndefined();
    expect(config!.admin.approval_timeout).toBe(120_000);
  });

  it('names the path of a bad value', () => {
    const { config, problems } = run(doc({ tiers: { BC: { approval: 'three_person' } }, acme: { approval: true }, admin: { approval_timeout: 'soon' } }));
    expect(config).toBeUndefined();
    const paths = problems.filter((p) => p.severity === 'error').map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['tiers.BC.approval', 'tenants.acme.approval', 'admin.approval_timeout']));
  });
});
