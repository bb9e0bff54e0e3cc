/**
 * Config of the admin API's limits and Host allow-list: defaults, normalisation, and errors
 * that name the exact path.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_RATE_LIMIT, validateConfig, type ConfigProblem } from '../src/config/index.js';

const tenants = { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://10.0.1.10:8080'] }] } };

function check(admin: unknown): { problems: ConfigProblem[]; config: ReturnType<typeof validateConfig>['config'] } {
  const { config, problems } = validateConfig({ admin, tenants }, { baseDir: '/etc/drproxy' });
  return { problems, config };
}

function problemAt(admin: unknown, at: string): string {
  const { problems, config } = check(admin);
  expect(config).toBeUndefined();
  const here = problems.filter((p) => p.path === at);
  expect(here, JSON.stringify(problems)).toHaveLength(1);
  return here[0]!.message;
}

describe('admin.rate_limit and admin.allowed_hosts', () => {
  it('defaults', () => {
    const { config } = check(undefined);
    expect(config!.admin.rate_limit).toEqual({ rate: 20, burst: 100, metrics_rate: 5, metrics_burst: 20, max_clients: 1024, refused_log_interval: 10_000 });
    expect(DEFAULT_ADMIN_RATE_LIMIT).toEqual(config!.admin.rate_limit);
    expect(config!.admin.allowed_hosts).toEqual([]);
  });

  it('parses every field; host names are lower-cased without trailing dot', () => {
    const { config } = check({
      allowed_hosts: ['Admin.Example.NET.', '*.svc.cluster.local', '*'],
      rate_limit: { rate: 0.5, burst: 3, metrics_rate: 1, metrics_burst: 2, max_clients: 64, refused_log_interval: '30s' },
    });
    expect(config!.admin.allowed_hosts).toEqual(['admin.example.net', '*.svc.cluster.local', '*']);
    expect(config!.admin.rate_limit).toEqual({ rate: 0.5, burst: 3, metrics_rate: 1, metrics_burst: 2, max_clients: 64, refused_log_interval: 30_000 });
  });

  it('names the exact path of a bad value', () => {
    expect(problemAt({ rate_limit: { rate: 0 } }, 'admin.rate_limit.rate')).toMatch(/must be between 0.01 and 1000000, got 0/);
    expect(problemAt({ rate_limit: { burst: 1.5 } }, 'admin.rate_limit.burst')).toMatch(/expected an integer/);
    expect(problemAt({ rate_limit: { max_clients: 4 } }, 'admin.rate_limit.max_clients')).toMatch(/must be between 16 and 1000000, got 4/);
    expect(problemAt({ rate_limit: { refused_log_interval: '10ms' } }, 'admin.rate_limit.refused_log_interval')).toMatch(/at least 100ms/);
    expect(problemAt({ rate_limit: { rates: 3 } }, 'admin.rate_limit.rates')).toMatch(/did you mean "rate"/);
    expect(problemAt({ allowed_hosts: 'admin.example.net' }, 'admin.allowed_hosts')).toMatch(/expected a list/);
    expect(problemAt({ allowed_hosts: ['ok.example', 'admin.example.net:9901'] }, 'admin.allowed_hosts[1]')).toMatch(/must not have a port/);
    expect(problemAt({ allowed_hosts: ['http://admin.example.net'] }, 'admin.allowed_hosts[0]')).toMatch(/must not have a scheme/);
    expect(problemAt({ allowed_hosts: ['a.*.example'] }, 'admin.allowed_hosts[0]')).toMatch(/leading "\*\."/);
  });
});
