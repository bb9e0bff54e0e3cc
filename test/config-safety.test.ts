/** The `safety` section (docs/safety.md): read with its defaults; bad values name their path. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';

const doc = (safety: unknown) => ({ safety, tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a', backends: ['http://127.0.0.1:1'] }, { name: 'b', backends: ['http://127.0.0.1:2'] }] } } });
const problems = (safety: unknown) => validateConfig(doc(safety), { baseDir: '/tmp' }).problems.map((p) => `${p.path}: ${p.message}`);

describe('safety config', () => {
  it('reads the breaker with its defaults (window 60s, action confirm); no section: no breaker', () => {
    expect(validateConfig(doc({ max_auto_failovers: { count: 5 } }), { baseDir: '/tmp' }).config?.safety).toEqual({ max_auto_failovers: { count: 5, window: 60_000, action: 'confirm' } });
    expect(validateConfig(doc({ max_auto_failovers: { percent: 20, window: '2m', action: 'proceed' } }), { baseDir: '/tmp' }).config?.safety).toEqual({ max_auto_failovers: { percent: 20, window: 120_000, action: 'proceed' } });
    expect(validateConfig(doc(undefined), { baseDir: '/tmp' }).config?.safety).toEqual({});
  });

  it('names the path of each problem', () => {
    expect(problems({ max_auto_failovers: { count: 5, percent: 10 } })).toEqual(['safety.max_auto_failovers: give exactly one of "count" (automatic flips) or "percent" (of the tenants) per window']);
    expect(problems({ max_auto_failovers: { window: '60s' } })).toEqual(['safety.max_auto_failovers: give exactly one of "count" (automatic flips) or "percent" (of the tenants) per window']);
    expect(problems({ max_auto_failovers: { count: 0 } })[0]).toMatch(/^safety\.max_auto_failovers\.count: /);
    expect(problems({ max_auto_failovers: { count: 3, action: 'panic' } })[0]).toMatch(/^safety\.max_auto_failovers\.action: /);
    expect(problems({ max_auto_failovers: { percent: 101 } })[0]).toMatch(/^safety\.max_auto_failovers\.percent: /);
    expect(problems({ max_auto_failover: { count: 3 } })[0]).toMatch(/^safety\.max_auto_failover: unknown key/);
  });
});
