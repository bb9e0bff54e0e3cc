import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import {
  DEFAULT_ADMIN_CONNECTIONS,
  DEFAULT_APPROVAL_TIMEOUT,
  DEFAULT_ADMIN_RATE_LIMIT,
  DEFAULT_FAILOVER,
  DEFAULT_PROXY,
  DEFAULT_SERVER,
  loadConfigFile,
  parseConfigText,
  parseDuration,
  parseStatusRanges,
  statusInRanges,
  validateConfig,
  type Config,
} from '../src/config/index.js';

const BASE_DIR = '/etc/drproxy';

function site(name: string, ...backends: unknown[]): Record<string, unknown> {
  return { name, backends };
}

function minimal(): Record<string, any> {
  return {
    tenants: {
      acme: {
        tier: 'BC',
        hosts: ['acme.example.com'],
        sites: [site('a1', 'http://10.0.1.10:8080'), site('a2', 'http://10.0.2.10:8080')],
      },
    },
  };
}

function valid(raw: unknown): Config {
  const { config, problems } = validateConfig(raw, { baseDir: BASE_DIR });
  expect(problems).toEqual([]);
  expect(config).toBeDefined();
  return config!;
}

describe('config: a minimal file gets every default', () => {
  it('fills top-level defaults', () => {
    const config = valid(minimal());
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin).toEqual({ listen: { host: '127.0.0.1', port: 9901 }, tokens: [], metrics_auth: false, allowed_hosts: [], rate_limit: DEFAULT_ADMIN_RATE_LIMIT, ...DEFAULT_ADMIN_CONNECTIONS, approval_timeout: DEFAULT_APPROVAL_TIMEOUT, max_event_streams: 64 });
    expect(config.state).toEqual({ dir: path.resolve(BASE_DIR, 'var/drproxy') });
    expect(config.server).toEqual(DEFAULT_SERVER);
    expect(config.headers).toEqual({ epoch: 'x-dr-epoch', site: 'x-dr-site' });
    expect(config.log).toEqual({ level: 'info', format: 'json' });
    expect(config.access_log).toEqual({ mode: 'off', sample_rate: 0.01, destination: 'stdout', include_query: false, max_buffer: 4 * 1024 * 1024 });
    expect(Object.keys(config.tiers)).toEqual(['Basic', 'DR3', 'DR1', 'BC']);
  });

  it('fills tenant, site and backend defaults', () => {
    const [tenant] = valid(minimal()).tenants;
    expect(tenant!.name).toBe('acme');
    expect(tenant!.tier).toEqual({ name: 'BC', rpo: 15 * 60_000, rto: 15 * 60_000, drill_interval: 30 * 86_400_000 });
    expect(tenant!.paths).toEqual(['/']);
    expect(tenant!.failover).toEqual(DEFAULT_FAILOVER);
    expect(tenant!.proxy).toEqual(DEFAULT_PROXY);
    const [a1] = tenant!.sites;
    expect(a1!.min_healthy).toEqual({ kind: 'count', value: 1 });
    expect(a1!.backends).toEqual([
      { name: '10.0.1.10:8080', url: 'http://10.0.1.10:8080', origin: 'http://10.0.1.10:8080', weight: 1 },
    ]);
    expect(a1!.health_check).toEqual({
      path: '/healthz',
      method: 'GET',
      interval: 1000,
      fast_interval: 1000,
      timeout: 500,
      jitter: 0.1,
      rise: 2,
      fall: 3,
      expect_status: [[200, 399]],
      expect_status_text: '200-399',
      headers: {},
    });
    expect(a1!.fence).toBeUndefined();
    expect(a1!.promote).toBeUndefined();
  });
});

describe('config: every option is normalized', () => {
  it('parses addresses, tokens, state, headers and logs', () => {
    const raw = minimal();
    raw.listen = '[::1]:0';
    raw.admin = {
      listen: 'localhost:9999',
      metrics_auth: true,
      tokens: [
        { name: 'ops', role: 'operator', token_env: 'OPS_TOKEN' },
        { name: 'ci', role: 'viewer', token_file: 'secrets/ci.token' },
      ],
    };
    raw.state = { dir: '/var/lib/drproxy' };
    raw.server = { request_timeout: '0s', max_header_size: 32768 };
    raw.headers = { epoch: 'X-Epoch', site: 'X-Site' };
    raw.log = { level: 'debug' };
    const config = valid(raw);
    expect(config.listen).toEqual({ host: '::1', port: 0 });
    expect(config.admin.listen).toEqual({ host: 'localhost', port: 9999 });
    expect(config.admin.metrics_auth).toBe(true);
    expect(config.admin.tokens).toEqual([
      { name: 'ops', role: 'operator', token_env: 'OPS_TOKEN' },
      { name: 'ci', role: 'viewer', token_file: path.resolve(BASE_DIR, 'secrets/ci.token') },
    ]);
    expect(config.state).toEqual({ dir: '/var/lib/drproxy' });
    expect(config.server).toMatchObject({ request_timeout: 0, max_header_size: 32768, headers_timeout: 10_000 });
    expect(config.headers).toEqual({ epoch: 'x-epoch', site: 'x-site' });
    expect(config.log.level).toBe('debug');
  });

  it('normalizes hosts, backends, min_healthy and hooks', () => {
    const raw = minimal();
    raw.tenants.acme.hosts = ['ACME.example.com.', '*.Acme.Example.com'];
    raw.tenants.acme.paths = ['/api', '/'];
    raw.tenants.acme.sites = [
      {
        name: 'a1',
        region: 'A',
        zone: 1,
        backends: ['https://db.internal', { url: 'http://10.0.1.11:8080/', weight: 3, name: 'b2' }],
        min_healthy: '50%',
        fence: { url: 'http://10.0.1.10:8080/dr/fence', required: true, headers: { 'X-Token': 'abc', 'X-Num': 7 } },
        promote: { url: 'http://10.0.1.10:8080/dr/promote?now=1', timeout: '2s' },
      },
      { name: 'a2', backends: ['http://10.0.2.10:8080', 'http://10.0.2.11:8080'], min_healthy: 0.5 },
      { name: 'a3', backends: ['http://10.0.3.10:8080', 'http://10.0.3.11:8080'], min_healthy: 2 },
    ];
    const [tenant] = valid(raw).tenants;
    expect(tenant!.hosts).toEqual(['acme.example.com', '*.acme.example.com']);
    expect(tenant!.paths).toEqual(['/api', '/']);
    const [a1, a2, a3] = tenant!.sites;
    expect(a1!.region).toBe('A');
    expect(a1!.zone).toBe('1');
    expect(a1!.backends).toEqual([
      { name: 'db.internal:443', url: 'https://db.internal', origin: 'https://db.internal:443', weight: 1 },
      { name: 'b2', url: 'http://10.0.1.11:8080', origin: 'http://10.0.1.11:8080', weight: 3 },
    ]);
    expect(a1!.min_healthy).toEqual({ kind: 'fraction', value: 0.5 });
    expect(a2!.min_healthy).toEqual({ kind: 'fraction', value: 0.5 });
    expect(a3!.min_healthy).toEqual({ kind: 'count', value: 2 });
    expect(a1!.fence).toEqual({
      url: 'http://10.0.1.10:8080/dr/fence',
      required: true,
      timeout: 5000,
      headers: { 'x-token': 'abc', 'x-num': '7' },
    });
    expect(a1!.promote).toEqual({ url: 'http://10.0.1.10:8080/dr/promote?now=1', required: false, timeout: 2000, headers: {} });
  });

  it('parses expect_status forms and data_age', () => {
    const raw = minimal();
    raw.defaults = {
      health_check: { expect_status: [200, '300-302, 404'], data_age: { json_field: 'replication.lag' } },
    };
    const hc = valid(raw).tenants[0]!.sites[0]!.health_check;
    expect(hc.expect_status).toEqual([[200, 200], [300, 302], [404, 404]]);
    expect(hc.expect_status_text).toBe('200,300-302,404');
    expect(hc.data_age).toEqual({ json_field: 'replication.lag', kind: 'seconds' });
  });
});

describe('config: merging defaults ← defaults.X ← tenant ← site', () => {
  it('lets the tenant override defaults and the site override the tenant', () => {
    const raw = minimal();
    raw.defaults = {
      health_check: { path: '/ready', interval: '2s', rise: 5, headers: { 'X-From': 'defaults', 'X-Keep': '1' } },
      failover: { mode: 'manual', min_interval: '2m' },
      proxy: { balance: 'least_outstanding', max_retries: 1 },
    };
    raw.tenants.acme.health_check = { interval: '3s', fall: 7, headers: { 'X-From': 'tenant' } };
    raw.tenants.acme.failover = { mode: 'auto' };
    raw.tenants.acme.proxy = { max_retries: 0, retry_on: [503, 502, 503] };
    raw.tenants.acme.sites[0].health_check = { interval: '4s', fast_interval: '1s', headers: { 'X-Site': 'a1' } };
    const [tenant] = valid(raw).tenants;
    expect(tenant!.failover).toEqual({ ...DEFAULT_FAILOVER, mode: 'auto', min_interval: 120_000 });
    expect(tenant!.proxy).toEqual({ ...DEFAULT_PROXY, balance: 'least_outstanding', max_retries: 0, retry_on: [503, 502] });
    const [a1, a2] = tenant!.sites;
    expect(a1!.health_check).toMatchObject({
      path: '/ready', // defaults.health_check
      rise: 5, // defaults.health_check
      fall: 7, // tenant
      interval: 4000, // site wins over tenant
      fast_interval: 1000,
      headers: { 'x-from': 'tenant', 'x-keep': '1', 'x-site': 'a1' },
    });
    expect(a2!.health_check).toMatchObject({ path: '/ready', rise: 5, fall: 7, interval: 3000, fast_interval: 3000 });
    expect(a2!.health_check.headers).toEqual({ 'x-from': 'tenant', 'x-keep': '1' });
  });
});

describe('config: body_timeout follows response_timeout unless set', () => {
  function proxyOf(defaults: Record<string, unknown> | undefined, tenant: Record<string, unknown> | undefined) {
    const raw = minimal();
    if (defaults) raw.defaults = { proxy: defaults };
    if (tenant) raw.tenants.acme.proxy = tenant;
    return valid(raw).tenants[0]!.proxy;
  }

  it('is response_timeout by default', () => {
    expect(proxyOf(undefined, undefined)).toMatchObject({ response_timeout: 30_000, body_timeout: 30_000 });
  });

  it('follows a response_timeout set in defaults or in the tenant', () => {
    expect(proxyOf({ response_timeout: '10s' }, undefined)).toMatchObject({ response_timeout: 10_000, body_timeout: 10_000 });
    expect(proxyOf(undefined, { response_timeout: '5s' })).toMatchObject({ response_timeout: 5_000, body_timeout: 5_000 });
  });

  it('keeps a body_timeout that was set, at either level', () => {
    expect(proxyOf({ body_timeout: '2m' }, { response_timeout: '5s' })).toMatchObject({ response_timeout: 5_000, body_timeout: 120_000 });
    expect(proxyOf({ response_timeout: '10s' }, { body_timeout: '1m' })).toMatchObject({ response_timeout: 10_000, body_timeout: 60_000 });
  });
});

describe('config: loading a file', () => {
  it('sets source to the absolute path and resolves paths against the file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drproxy-config-'));
    try {
      const file = path.join(dir, 'drproxy.yaml');
      await writeFile(
        file,
        [
          'listen: 127.0.0.1:0',
          'state: { dir: state }',
          'tenants:',
          '  acme:',
          '    tier: DR1',
          '    hosts: [acme.example.com]',
          '    sites:',
          '      - { name: a1, backends: [http://127.0.0.1:9001] }',
          '      - { name: a2, backends: [http://127.0.0.1:9002] }',
          '',
        ].join('\n'),
      );
      const { config, warnings } = await loadConfigFile(path.relative(process.cwd(), file));
      expect(warnings).toEqual([]);
      expect(config.source).toBe(file);
      expect(config.state.dir).toBe(path.join(dir, 'state'));
      expect(config.listen).toEqual({ host: '127.0.0.1', port: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses text with parseConfigText', () => {
    const { config } = parseConfigText(
      'tenants:\n  acme:\n    tier: bc\n    hosts: [a.example.com]\n    sites:\n      - { name: x, backends: [http://10.0.0.1] }\n      - { name: y, backends: [http://10.0.0.2] }\n',
      'inline',
      '/srv',
    );
    expect(config.tenants[0]!.sites[0]!.backends[0]!.origin).toBe('http://10.0.0.1:80');
    expect(config.state.dir).toBe('/srv/var/drproxy');
  });
});

describe('config: durations and status ranges', () => {
  it('parses durations with a unit only', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0s')).toBe(0);
    for (const bad of [5, '5', '', 'fast', '-1s', '1 parsec', null, undefined, '1s2']) {
      expect(parseDuration(bad)).toBeUndefined();
    }
  });

  it('matches statuses against ranges', () => {
    const parsed = parseStatusRanges('200-299,404');
    if ('error' in parsed) throw new Error(parsed.error);
    expect(statusInRanges(200, parsed.ranges)).toBe(true);
    expect(statusInRanges(299, parsed.ranges)).toBe(true);
    expect(statusInRanges(404, parsed.ranges)).toBe(true);
    expect(statusInRanges(300, parsed.ranges)).toBe(false);
    expect(statusInRanges(503, parsed.ranges)).toBe(false);
    expect(parseStatusRanges('600-700')).toMatchObject({ error: expect.stringContaining('600 is not an HTTP status') });
    expect(parseStatusRanges('300-200')).toMatchObject({ error: expect.stringContaining('reversed') });
  });
});
