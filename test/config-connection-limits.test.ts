/**
 * server.max_connections, server.max_connections_per_client and server.fd_reserve: defaults,
 * and errors that name the exact path.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig, type ConfigProblem } from '../src/config/index.js';

function check(server: unknown): { problems: ConfigProblem[]; server?: Record<string, unknown> } {
  const raw = {
    server,
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://10.0.1.10:8080'] }, { name: 'b1', backends: ['http://10.0.2.10:8080'] }] } },
  };
  const { config, problems } = validateConfig(server === undefined ? { tenants: raw.tenants } : raw, { baseDir: '/etc/drproxy' });
  return { problems, ...(config && { server: config.server as unknown as Record<string, unknown> }) };
}

function expectError(server: Record<string, unknown>, path: string, fragment: string): void {
  const { problems, server: s } = check(server);
  expect(s).toBeUndefined();
  const here = problems.filter((p) => p.path === path);
  expect(here, JSON.stringify(problems)).toHaveLength(1);
  expect(here[0]!.severity).toBe('error');
  expect(here[0]!.message).toContain(fragment);
}

describe('connection limits in the config', () => {
  it('default to 10000 connections, no per-client cap and a reserve of 256 descriptors', () => {
    expect(check(undefined).server).toMatchObject({ max_connections: 10_000, max_connections_per_client: 0, fd_reserve: 256 });
    expect(check({ headers_timeout: '5s' }).server).toMatchObject({ max_connections: 10_000, max_connections_per_client: 0, fd_reserve: 256 });
  });

  it('take the configured values', () => {
    expect(check({ max_connections: 50_000, max_connections_per_client: 200, fd_reserve: 1024 }).server).toMatchObject({ max_connections: 50_000, max_connections_per_client: 200, fd_reserve: 1024 });
  });

  it('reject what is not a count, at the exact path', () => {
    expectError({ max_connections: 0 }, 'server.max_connections', 'must be at least 1, got 0');
    expectError({ max_connections: '10k' }, 'server.max_connections', 'expected an integer');
    expectError({ max_connections_per_client: -1 }, 'server.max_connections_per_client', 'must be at least 0, got -1');
    expectError({ max_connections_per_client: 1.5 }, 'server.max_connections_per_client', 'expected an integer, got 1.5');
    expectError({ fd_reserve: -5 }, 'server.fd_reserve', 'must be at least 0, got -5');
    expectError({ fd_resrve: 10 }, 'server.fd_resrve', 'did you mean "fd_reserve"?');
  });

  it('warn when one client address could take every connection', () => {
    const { problems, server } = check({ max_connections: 100, max_connections_per_client: 500 });
    expect(server).toBeDefined();
    expect(problems).toEqual([
      expect.objectContaining({ path: 'server.max_connections_per_client', severity: 'warning', message: expect.stringContaining('one client address can take every connection') }),
    ]);
    expect(check({ max_connections: 100, max_connections_per_client: 100 }).problems).toEqual([]);
  });
});
