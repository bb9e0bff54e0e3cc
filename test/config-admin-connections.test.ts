/**
 * admin.max_connections, admin.max_connections_per_client and admin.headers_timeout: defaults,
 * and errors that name the exact path.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig, type ConfigProblem } from '../src/config/index.js';

function check(admin: unknown): { problems: ConfigProblem[]; admin?: Record<string, unknown> } {
  const tenants = { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://10.0.1.10:8080'] }, { name: 'b1', backends: ['http://10.0.2.10:8080'] }] } };
  const { config, problems } = validateConfig(admin === undefined ? { tenants } : { admin, tenants }, { baseDir: '/etc/drproxy' });
  return { problems, ...(config && { admin: config.admin as unknown as Record<string, unknown> }) };
}

function expectError(admin: Record<string, unknown>, path: string, fragment: string): void {
  const { problems, admin: a } = check(admin);
  expect(a).toBeUndefined();
  const here = problems.filter((p) => p.path === path);
  expect(here, JSON.stringify(problems)).toHaveLength(1);
  expect(here[0]!.severity).toBe('error');
  expect(here[0]!.message).toContain(fragment);
}

describe('admin connection limits in the config', () => {
  it('default to 256 connections, 64 per client address and a 10 s headers timeout', () => {
    const want = { max_connections: 256, max_connections_per_client: 64, headers_timeout: 10_000 };
    expect(check(undefined).admin).toMatchObject(want);
    expect(check({ metrics_auth: true }).admin).toMatchObject(want);
  });

  it('take the configured values', () => {
    expect(check({ max_connections: 32, max_connections_per_client: 0, headers_timeout: '2s' }).admin).toMatchObject({ max_connections: 32, max_connections_per_client: 0, headers_timeout: 2000 });
  });

  it('reject bad values at the exact path', () => {
    expectError({ max_connections: 0 }, 'admin.max_connections', 'must be between 1 and 100000, got 0');
    expectError({ max_connections_per_client: -1 }, 'admin.max_connections_per_client', 'must be between 0 and 100000, got -1');
    expectError({ headers_timeout: '0s' }, 'admin.headers_timeout', 'must be more than 0s');
    expectError({ headers_timeout: '45s' }, 'admin.headers_timeout', 'must be at most 30s');
  });

  it('warn when one client address could take every admin connection', () => {
    const { problems, admin } = check({ max_connections: 10, max_connections_per_client: 20 });
    expect(admin).toBeDefined();
    expect(problems).toEqual([expect.objectContaining({ path: 'admin.max_connections_per_client', severity: 'warning' })]);
  });
});
