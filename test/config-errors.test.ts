import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { loadConfigFile, parseConfigText, validateConfig, type ConfigProblem } from '../src/config/index.js';
import { ConfigError, DrProxyError } from '../src/errors.js';

function tenant(name = 'acme'): Record<string, any> {
  return {
    tier: 'BC',
    hosts: [`${name}.example.com`],
    sites: [
      { name: 'a1', backends: ['http://10.0.1.10:8080', 'http://10.0.1.11:8080'] },
      { name: 'a2', backends: ['http://10.0.2.10:8080'] },
    ],
  };
}

function base(): Record<string, any> {
  return { tenants: { acme: tenant() } };
}

function check(raw: unknown): { problems: ConfigProblem[]; ok: boolean } {
  const { config, problems } = validateConfig(raw, { baseDir: '/etc/drproxy' });
  return { problems, ok: config !== undefined };
}

/** Asserts that exactly one problem sits at `path`, with `fragment` in its message. */
function expectProblem(raw: unknown, at: string, fragment: string, severity: 'error' | 'warning' = 'error'): void {
  const { problems, ok } = check(raw);
  const here = problems.filter((p) => p.path === at);
  expect(here, JSON.stringify(problems)).toHaveLength(1);
  expect(here[0]!.message).toContain(fragment);
  expect(here[0]!.severity).toBe(severity);
  if (severity === 'error') expect(ok).toBe(false);
}

/** Applies `change` to a fresh valid config. */
function withChange(change: (raw: Record<string, any>) => void): Record<string, any> {
  const raw = base();
  change(raw);
  return raw;
}

describe('config errors: unknown keys', () => {
  it('suggests the closest known key', () => {
    const raw = withChange((r) => {
      r.tenants.acme.sites[0].bakends = r.tenants.acme.sites[0].backends;
      delete r.tenants.acme.sites[0].backends;
    });
    expectProblem(raw, 'tenants.acme.sites[0].bakends', 'unknown key (did you mean "backends"?)');
    expectProblem(raw, 'tenants.acme.sites[0].backends', 'required key is missing');
  });

  it('reports unknown keys at every level', () => {
    expectProblem(withChange((r) => (r.lisen = '0.0.0.0:1')), 'lisen', 'did you mean "listen"?');
    expectProblem(withChange((r) => (r.defaults = { health_check: { intervall: '1s' } })), 'defaults.health_check.intervall', 'did you mean "interval"?');
    expectProblem(withChange((r) => (r.admin = { tokens: [{ name: 'x', role: 'viewer', token_env: 'X', tokn: 1 }] })), 'admin.tokens[0].tokn', 'unknown key');
    expectProblem(withChange((r) => (r.tenants.acme.proxy = { colour: 'red' })), 'tenants.acme.proxy.colour', 'unknown key (known keys:');
  });

  it('rejects an unknown key in a promote hook', () => {
    const raw = withChange((r) => (r.tenants.acme.sites[1].promote = { url: 'http://10.0.2.10:8080/p', requird: true }));
    expectProblem(raw, 'tenants.acme.sites[1].promote.requird', 'unknown key (did you mean "required"?)');
  });
});

describe('config errors: types and ranges', () => {
  it('reports wrong types', () => {
    expectProblem(withChange((r) => (r.tenants.acme.hosts = 'acme.example.com')), 'tenants.acme.hosts', 'expected a list, got a string');
    expectProblem(withChange((r) => (r.admin = 'yes')), 'admin', 'expected a map, got a string');
    expectProblem(withChange((r) => (r.admin = { metrics_auth: 'yes' })), 'admin.metrics_auth', 'expected true or false, got a string');
    expectProblem(withChange((r) => (r.tenants.acme.sites[0].backends[0] = 42)), 'tenants.acme.sites[0].backends[0]', 'expected a URL or a map');
  });

  it('reports out-of-range numbers', () => {
    expectProblem(withChange((r) => (r.defaults = { health_check: { rise: 0 } })), 'defaults.health_check.rise', 'must be between 1 and 100, got 0');
    expectProblem(withChange((r) => (r.defaults = { health_check: { jitter: 0.9 } })), 'defaults.health_check.jitter', 'must be between 0 and 0.5');
    expectProblem(withChange((r) => (r.defaults = { proxy: { max_connections: 2.5 } })), 'defaults.proxy.max_connections', 'expected an integer, got 2.5');
    expectProblem(withChange((r) => (r.defaults = { proxy: { retry_on: [502, 404] } })), 'defaults.proxy.retry_on[1]', 'must be between 500 and 599');
    expectProblem(withChange((r) => (r.server = { max_header_size: 100 })), 'server.max_header_size', 'must be between 1024 and 1048576');
    expectProblem(withChange((r) => (r.state = { etcd: { endpoints: ['http://127.0.0.1:2379'], quorum: 0 } })), 'state.etcd.quorum', 'must be at least 1');
    expectProblem(withChange((r) => (r.tenants.acme.sites[0].backends[1] = { url: 'http://10.0.1.11:8080', weight: 101 })), 'tenants.acme.sites[0].backends[1].weight', 'must be between 1 and 100');
  });

  it('reports bad enums', () => {
    expectProblem(withChange((r) => (r.log = { level: 'verbose' })), 'log.level', 'expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
    expectProblem(withChange((r) => (r.tenants.acme.failover = { mode: 'automatic' })), 'tenants.acme.failover.mode', 'expected one of auto, manual');
    expectProblem(withChange((r) => (r.admin = { tokens: [{ name: 'x', role: 'admin', token_env: 'X' }] })), 'admin.tokens[0].role', 'expected one of viewer, operator');
  });
});

describe('config errors: durations', () => {
  it('rejects words, bare numbers and unit-less strings', () => {
    expectProblem(withChange((r) => (r.defaults = { health_check: { interval: 'fast' } })), 'defaults.health_check.interval', 'not a duration: "fast" (use e.g. 500ms, 1s, 15m, 24h)');
    expectProblem(withChange((r) => (r.defaults = { failover: { drain_timeout: 30 } })), 'defaults.failover.drain_timeout', 'not a duration: 30 (add a unit');
    expectProblem(withChange((r) => (r.server = { shutdown_timeout: '30' })), 'server.shutdown_timeout', 'not a duration: "30"');
    expectProblem(withChange((r) => (r.tenants.acme.proxy = { connect_timeout: '-1s' })), 'tenants.acme.proxy.connect_timeout', 'not a duration: "-1s"');
  });

  it('rejects zero where a positive duration is needed, and timer overflow', () => {
    expectProblem(withChange((r) => (r.tenants.acme.proxy = { connect_timeout: '0s' })), 'tenants.acme.proxy.connect_timeout', 'must be more than 0s');
    expectProblem(withChange((r) => (r.defaults = { failover: { min_interval: '30d' } })), 'defaults.failover.min_interval', 'too long');
  });

  it('checks headers_timeout against request_timeout', () => {
    expectProblem(withChange((r) => (r.server = { headers_timeout: '2m' })), 'server.headers_timeout', 'must not exceed request_timeout (1m)');
    expect(check(withChange((r) => (r.server = { headers_timeout: '2m', request_timeout: '0s' }))).ok).toBe(true);
  });
});

describe('config errors: URLs, addresses, hosts, paths, statuses', () => {
  it('rejects bad backend URLs', () => {
    const at = 'tenants.acme.sites[1].backends[0]';
    const withBackend = (url: unknown) => withChange((r) => (r.tenants.acme.sites[1].backends = [url]));
    expectProblem(withBackend('ftp://x'), at, 'not an http(s) URL: "ftp://x"');
    expectProblem(withBackend('10.0.2.10:8080'), at, 'not an http(s) URL');
    expectProblem(withBackend('http://10.0.2.10:8080/app'), at, 'must not have a path');
    expectProblem(withBackend('http://10.0.2.10:8080/?a=1'), at, 'must not have a query');
    expectProblem(withBackend('http://u:secret@10.0.2.10:8080'), at, 'must not contain credentials');
    const { problems } = check(withBackend('http://u:secret@10.0.2.10:8080'));
    expect(JSON.stringify(problems)).not.toContain('secret');
    expectProblem(withBackend({ weight: 2 }), `${at}.url`, 'required key is missing');
    expectProblem(withChange((r) => (r.tenants.acme.sites[0].fence = { url: 'not a url' })), 'tenants.acme.sites[0].fence.url', 'not an http(s) URL');
    expectProblem(withChange((r) => (r.state = { etcd: { endpoints: [] } })), 'state.etcd.endpoints', 'must not be empty');
  });

  it('rejects bad listen addresses', () => {
    expectProblem(withChange((r) => (r.listen = '8080')), 'listen', 'not a listen address: "8080"');
    expectProblem(withChange((r) => (r.listen = 8080)), 'listen', 'not a listen address: 8080');
    expectProblem(withChange((r) => (r.listen = '::1:8080')), 'listen', 'not a listen address');
    expectProblem(withChange((r) => (r.admin = { listen: '127.0.0.1:70000' })), 'admin.listen', 'port out of range 0-65535: 70000');
    expectProblem(withChange((r) => ((r.listen = '127.0.0.1:9000'), (r.admin = { listen: '127.0.0.1:9000' }))), 'admin.listen', 'same address as listen');
  });

  it('rejects bad hosts', () => {
    const at = 'tenants.acme.hosts[0]';
    const withHost = (host: string) => withChange((r) => (r.tenants.acme.hosts = [host]));
    expectProblem(withHost('acme.example.com:8080'), at, 'a host must not have a port');
    expectProblem(withHost('https://acme.example.com'), at, 'a host must not have a scheme');
    expectProblem(withHost('acme.example.com/app'), at, 'a host must not have a path');
    expectProblem(withHost('*'), at, 'a bare "*" would match every host');
    expectProblem(withHost('a.*.example.com'), at, 'a wildcard is only allowed as a leading "*."');
    expectProblem(withHost('acme example'), at, 'not a host name');
    expectProblem(withChange((r) => (r.tenants.acme.hosts = [])), 'tenants.acme.hosts', 'must not be empty');
  });

  it('rejects bad and duplicate paths', () => {
    expectProblem(withChange((r) => (r.tenants.acme.paths = ['api'])), 'tenants.acme.paths[0]', 'not a valid path prefix');
    expectProblem(withChange((r) => (r.tenants.acme.paths = ['/api', '/app', '/api'])), 'tenants.acme.paths[2]', 'duplicate path "/api" (first at tenants.acme.paths[0])');
  });

  it('rejects bad status ranges', () => {
    const at = 'defaults.health_check.expect_status';
    const withStatus = (s: unknown) => withChange((r) => (r.defaults = { health_check: { expect_status: s } }));
    expectProblem(withStatus('600-700'), at, '600 is not an HTTP status (100-599)');
    expectProblem(withStatus('300-200'), at, 'range "300-200" is reversed');
    expectProblem(withStatus('ok'), at, 'not a status range: "ok"');
    expectProblem(withStatus([200, '2xx']), `${at}[1]`, 'not a status range: "2xx"');
  });

  it('rejects bad header names', () => {
    expectProblem(withChange((r) => (r.headers = { epoch: 'X Epoch' })), 'headers.epoch', 'not a valid HTTP header name');
    expectProblem(withChange((r) => (r.headers = { site: 'Host' })), 'headers.site', 'is a standard header');
    expectProblem(withChange((r) => (r.headers = { epoch: 'X-A', site: 'x-a' })), 'headers.site', 'must differ');
  });
});

describe('config errors: duplicates and conflicts', () => {
  it('rejects duplicate site names within a tenant', () => {
    const raw = withChange((r) => (r.tenants.acme.sites[1].name = 'a1'));
    expectProblem(raw, 'tenants.acme.sites[1].name', 'duplicate site name "a1" (first at tenants.acme.sites[0])');
  });

  it('rejects duplicate backend names within a site, explicit or derived', () => {
    expectProblem(
      withChange((r) => r.tenants.acme.sites[0].backends.push('http://10.0.1.10:8080/')),
      'tenants.acme.sites[0].backends[2]',
      'duplicate backend name "10.0.1.10:8080"',
    );
    expectProblem(
      withChange((r) => (r.tenants.acme.sites[0].backends = [{ url: 'http://10.0.1.10', name: 'b' }, { url: 'http://10.0.1.11', name: 'b' }])),
      'tenants.acme.sites[0].backends[1]',
      'duplicate backend name "b"',
    );
  });

  it('rejects duplicate token names', () => {
    const raw = withChange((r) => {
      r.admin = {
        tokens: [
          { name: 'ops', role: 'operator', token_env: 'A' },
          { name: 'ops', role: 'viewer', token_env: 'B' },
        ],
      };
    });
    expectProblem(raw, 'admin.tokens[1].name', 'duplicate token name "ops"');
  });

  it('needs exactly one of token_env and token_file', () => {
    expectProblem(withChange((r) => (r.admin = { tokens: [{ name: 'a', role: 'viewer' }] })), 'admin.tokens[0]', 'needs exactly one of token_env or token_file (neither given)');
    expectProblem(withChange((r) => (r.admin = { tokens: [{ name: 'a', role: 'viewer', token_env: 'A', token_file: '/x' }] })), 'admin.tokens[0]', '(both given)');
  });

  it('rejects a host + path claimed by two tenants, on the later one', () => {
    const raw = withChange((r) => {
      r.tenants.beta = tenant('beta');
      r.tenants.beta.hosts = ['beta.example.com', 'ACME.example.com'];
    });
    expectProblem(raw, 'tenants.beta.hosts[1]', 'host "acme.example.com" with path "/" is already claimed by tenant "acme"');
    expect(check(raw).problems.filter((p) => p.path.startsWith('tenants.acme'))).toEqual([]);
  });

  it('allows the same host for two tenants on different paths', () => {
    const raw = withChange((r) => {
      r.tenants.acme.paths = ['/shop'];
      r.tenants.beta = { ...tenant('beta'), hosts: ['acme.example.com'], paths: ['/api'] };
    });
    expect(check(raw).ok).toBe(true);
  });
});

describe('config errors: tenants, sites and backends', () => {
  it('needs at least one tenant', () => {
    expectProblem({}, 'tenants', 'no tenants: at least one tenant is required');
    expectProblem({ tenants: {} }, 'tenants', 'no tenants');
    expectProblem({ tenants: null }, 'tenants', 'no tenants');
  });

  it('rejects invalid tenant names', () => {
    const raw = { tenants: { 'Acme Corp': tenant() } };
    expectProblem(raw, 'tenants["Acme Corp"]', 'not a valid tenant name: "Acme Corp"');
  });

  it('needs at least one site', () => {
    expectProblem(withChange((r) => (r.tenants.acme.sites = [])), 'tenants.acme.sites', 'no sites: a tenant needs at least one site');
    expectProblem(withChange((r) => delete r.tenants.acme.sites), 'tenants.acme.sites', 'no sites');
  });

  it('warns about a tenant with only one site, and still loads', () => {
    const raw = withChange((r) => r.tenants.acme.sites.pop());
    expectProblem(raw, 'tenants.acme.sites', 'only one site: nothing to fail over to', 'warning');
    expect(check(raw).ok).toBe(true);
  });

  it('rejects min_healthy larger than the number of backends', () => {
    expectProblem(withChange((r) => (r.tenants.acme.sites[1].min_healthy = 2)), 'tenants.acme.sites[1].min_healthy', 'min_healthy is 2 but the site has only 1 backend');
    expectProblem(withChange((r) => (r.tenants.acme.sites[1].min_healthy = '150%')), 'tenants.acme.sites[1].min_healthy', 'expected a number of backends');
    expectProblem(withChange((r) => (r.tenants.acme.sites[1].min_healthy = 0)), 'tenants.acme.sites[1].min_healthy', 'expected a number of backends');
  });

  it('rejects an unknown tier, listing the known ones', () => {
    expectProblem(withChange((r) => (r.tenants.acme.tier = 'Gold')), 'tenants.acme.tier', 'unknown tier "Gold"; known tiers: Basic, DR3, DR1, BC');
    expectProblem(withChange((r) => delete r.tenants.acme.tier), 'tenants.acme.tier', 'required key is missing');
  });
});

describe('config errors: health check timing', () => {
  it('warns when timeout >= interval, where the value is written', () => {
    const raw = withChange((r) => (r.defaults = { health_check: { interval: '1s', timeout: '1s' } }));
    expectProblem(raw, 'defaults.health_check.timeout', 'timeout (1s) >= interval (1s)', 'warning');
    expect(check(raw).ok).toBe(true);
    expect(check(raw).problems).toHaveLength(1);
  });

  it('blames the site that shortens the interval below the inherited timeout', () => {
    const raw = withChange((r) => (r.tenants.acme.sites[1].health_check = { interval: '400ms' }));
    expectProblem(raw, 'tenants.acme.sites[1].health_check.interval', 'timeout (500ms) >= interval (400ms)', 'warning');
  });

  it('rejects fast_interval > interval', () => {
    expectProblem(withChange((r) => (r.tenants.acme.health_check = { fast_interval: '2s' })), 'tenants.acme.health_check.fast_interval', 'fast_interval (2s) must not be longer than interval (1s)');
    expectProblem(
      withChange((r) => {
        r.defaults = { health_check: { interval: '5s', fast_interval: '2s' } };
        r.tenants.acme.sites[0].health_check = { interval: '1s' };
      }),
      'tenants.acme.sites[0].health_check.interval',
      'fast_interval (2s) must not be longer than interval (1s)',
    );
  });

  it('rejects a body check with method HEAD', () => {
    expectProblem(withChange((r) => (r.tenants.acme.health_check = { method: 'HEAD', expect_body: 'ok' })), 'tenants.acme.health_check.method', 'a HEAD check gets no body');
  });
});

describe('config errors: everything at once', () => {
  it('reports every problem of a file in one go', () => {
    const text = `
listen: "0.0.0.0"
admin:
  tokens:
    - { name: ops, role: operator, token_env: A }
    - { name: ops, role: viewer, token_env: B }
defaults:
  health_check: { interval: fast, expect_status: "600-700" }
tenants:
  acme:
    tier: Platinum
    hosts: [acme.example.com]
    sites:
      - name: a1
        bakends: [http://10.0.1.10:8080]
      - name: a1
        backends: ["ftp://x"]
        min_healthy: 3
  beta:
    tier: DR3
    hosts: [acme.example.com]
    sites: []
`;
    let error: unknown;
    try {
      parseConfigText(text, 'many.yaml', '/tmp');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    const expected = [
      'listen: not a listen address',
      'admin.tokens[1].name: duplicate token name "ops"',
      'defaults.health_check.interval: not a duration: "fast"',
      'defaults.health_check.expect_status: 600 is not an HTTP status',
      'tenants.acme.tier: unknown tier "Platinum"',
      'tenants.acme.sites[0].backends: required key is missing',
      'tenants.acme.sites[0].bakends: unknown key (did you mean "backends"?)',
      'tenants.acme.sites[1].backends[0]: not an http(s) URL: "ftp://x"',
      'tenants.acme.sites[1].min_healthy: min_healthy is 3 but the site has only 1 backend',
      'tenants.acme.sites[1].name: duplicate site name "a1"',
      'tenants.beta.hosts[0]: host "acme.example.com" with path "/" is already claimed by tenant "acme"',
      'tenants.beta.sites: no sites',
    ];
    for (const fragment of expected) expect(problems.some((p) => p.startsWith(fragment)), fragment).toBe(true);
    expect(problems).toHaveLength(expected.length);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/^many\.yaml: 12 problems\n/);
    expect((error as ConfigError).code).toBe('DRP_CONFIG_INVALID');
  });
});

describe('config errors: files', () => {
  it('reports an unreadable file as DRP_CONFIG_READ', async () => {
    const missing = path.join(os.tmpdir(), 'drproxy-does-not-exist', 'drproxy.yaml');
    await expect(loadConfigFile(missing)).rejects.toMatchObject({
      code: 'DRP_CONFIG_READ',
      message: `cannot read config file ${missing}: no such file`,
    });
    await expect(loadConfigFile(os.tmpdir())).rejects.toBeInstanceOf(DrProxyError);
  });

  it('rejects an empty file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drproxy-config-'));
    try {
      for (const content of ['', '\n# only a comment\n', '~\n']) {
        const file = path.join(dir, 'empty.yaml');
        await writeFile(file, content);
        const err = await loadConfigFile(file).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).problems).toEqual([{ path: '', message: expect.stringContaining('empty'), severity: 'error' }]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a document that is not a map', () => {
    expect(() => parseConfigText('- a\n- b\n', 'list.yaml', '/tmp')).toThrow(/expected a map, got a list/);
  });
});
