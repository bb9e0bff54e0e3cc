/** The `metrics` section: defaults, and path-named errors for each setting. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';

const TENANT = { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:8080'] }] };

function check(metrics: unknown): ReturnType<typeof validateConfig> {
  const raw = { tenants: { acme: TENANT }, ...(metrics !== undefined && { metrics }) };
  return validateConfig(raw, { baseDir: '/etc/drproxy' });
}

describe('metrics config', () => {
  it('defaults to auto detail up to 100 tenants, no full-detail list, a 24h RTO window', () => {
    const { config, problems } = check(undefined);
    expect(problems.filter((p) => p.path.startsWith('metrics'))).toEqual([]);
    expect(config!.metrics).toEqual({ detail: 'auto', detail_auto_limit: 100, full_detail: [], rto_window: 24 * 3600_000 });
  });

  it('reads every setting', () => {
    const { config } = check({ detail: 'site', detail_auto_limit: 5, full_detail: ['acme'], rto_window: '1h' });
    expect(config!.metrics).toEqual({ detail: 'site', detail_auto_limit: 5, full_detail: ['acme'], rto_window: 3600_000 });
  });

  it.each([
    [{ detail: 'tenants' }, 'metrics.detail', 'expected one of auto, tenant, site, backend'],
    [{ detail_auto_limit: -1 }, 'metrics.detail_auto_limit', ''],
    [{ full_detail: ['acne'] }, 'metrics.full_detail[0]', 'no tenant named "acne" (did you mean "acme"?)'],
    [{ rto_window: '10s' }, 'metrics.rto_window', 'at least 1m'],
    [{ rto_window: '60d' }, 'metrics.rto_window', 'at most 30d'],
    [{ detial: 'tenant' }, 'metrics.detial', 'did you mean "detail"?'],
  ])('refuses %j at its path', (metrics, path, fragment) => {
    const { config, problems } = check(metrics);
    expect(config).toBeUndefined();
    const here = problems.filter((p) => p.path === path);
    expect(here, JSON.stringify(problems)).toHaveLength(1);
    expect(here[0]!.message).toContain(fragment);
  });
});
