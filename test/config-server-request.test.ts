/** server.max_headers, server.underscores_in_headers and server.trusted_proxies: defaults and path-named errors. */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

const TENANTS = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: ['http://127.0.0.1:9'] }] } };

function load(server?: Record<string, unknown>) {
  return parseConfigText(stringify({ ...(server && { server }), tenants: TENANTS }), 'test.yaml', '/tmp').config;
}

function problems(server: Record<string, unknown>): string[] {
  try {
    load(server);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('request-side server settings', () => {
  it('default: 100 headers, underscores dropped, nobody trusted', () => {
    expect(load().server).toMatchObject({ max_headers: 100, underscores_in_headers: false, trusted_proxies: [] });
  });

  it('accepts addresses and CIDR blocks of both families', () => {
    const s = load({ max_headers: 50, underscores_in_headers: true, trusted_proxies: ['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8', '0.0.0.0/0'] }).server;
    expect(s).toMatchObject({ max_headers: 50, underscores_in_headers: true, trusted_proxies: ['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8', '0.0.0.0/0'] });
  });

  it('names the exact path of each bad value', () => {
    expect(problems({ max_headers: 0 })).toEqual(['server.max_headers: must be between 1 and 10000, got 0']);
    expect(problems({ max_headers: 2.5 })).toEqual(['server.max_headers: expected an integer, got 2.5']);
    expect(problems({ underscores_in_headers: 'yes' })).toEqual(['server.underscores_in_headers: expected true or false, got a string']);
    expect(problems({ trusted_proxies: '10.0.0.0/8' })).toEqual(['server.trusted_proxies: expected a list, got a string']);
    expect(problems({ trusted_proxies: ['10.0.0.0/8', 'proxy.local', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', '10.0.0.0/'] })).toEqual([
      'server.trusted_proxies[1]: not an IP address or CIDR block (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8): "proxy.local"',
      'server.trusted_proxies[2]: prefix length must be 0 to 32: "10.0.0.0/33"',
      'server.trusted_proxies[3]: prefix length must be 0 to 128: "fd00::/129"',
      'server.trusted_proxies[4]: prefix length must be 0 to 32: "10.0.0.0/x"',
      'server.trusted_proxies[5]: prefix length must be 0 to 32: "10.0.0.0/"',
    ]);
  });
});
