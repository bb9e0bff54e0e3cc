import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition, value } from './helpers/prom.js';

/** The names the design promises (prefix drproxy_). */
const NAMES = [
  'failover_duration_seconds',
  'failover_rto_ratio',
  'rto_seconds',
  'rpo_seconds',
  'failovers_total',
  'active_site',
  'epoch',
  'backend_up',
  'health_checks_total',
  'health_check_duration_seconds',
  'requests_total',
  'request_duration_seconds',
  'upstream_retries_total',
  'requests_held',
  'drain_inflight',
  'site_data_age_seconds',
].map((n) => `drproxy_${n}`);

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  await b1.setHealth(200, '{"lag": 12}');
  p = await startProxy({
    defaults: { health_check: { ...FAST_CHECKS, data_age: { json_field: 'lag' } } },
    tenants: { acme: twoSiteTenant('acme.example.com', a1, b1) },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('/metrics', () => {
  it('parses as Prometheus text and holds every name of the design, plus Node default metrics', async () => {
    const r = await admin(p.adminUrl, 'GET', '/metrics');
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    const e = parseExposition(r.text);
    for (const name of NAMES) expect(e.types.has(name), name).toBe(true);
    expect(e.types.get('drproxy_failover_duration_seconds')).toBe('histogram');
    expect(e.types.get('drproxy_requests_total')).toBe('counter');
    expect(e.types.has('process_cpu_user_seconds_total')).toBe(true);
    expect(e.types.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('has failover buckets from 10 ms to 72 h', async () => {
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    // Under a loaded machine a fast check of a1 can time out and flip the tenant to b1 by itself
    // first: any flip records a duration, so flip to whichever site is not active.
    const t = p.proxy.tenant('acme')!;
    await waitFor(() => t.state.phase === 'active', { what: 'no flip under way' });
    await t.operatorFailover({ to: t.state.active === 'b1' ? 'a1' : 'b1', reason: 'x', actor: 't', force: true });
    const after = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    const les = after.samples.filter((s) => s.name === 'drproxy_failover_duration_seconds_bucket').map((s) => s.labels.le);
    expect(les[0]).toBe('0.01');
    expect(les).toContain(String(72 * 3600));
    expect(e.samples.length).toBeGreaterThan(0);
  });

  it('counts requests by status class, and reports backends, checks and data age', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await request(`${p.url}/`, { headers: { host: 'acme.example.com' } });
      await r.body.dump();
    }
    const r = await request(`${p.url}/`, { headers: { host: 'nope.example.com' } });
    await r.body.dump();
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    expect(value(e, 'drproxy_requests_total', { tenant: 'acme', code: '2xx' })).toBe(5);
    expect(value(e, 'drproxy_request_duration_seconds_count', { tenant: 'acme' })).toBe(5);
    expect(value(e, 'drproxy_backend_up', { tenant: 'acme', site: 'a1' })).toBe(1);
    expect(value(e, 'drproxy_health_checks_total', { tenant: 'acme', site: 'a1', result: 'ok' })).toBeGreaterThan(0);
    // One duration per check, in the same scrape (both are read from the same plain counts).
    const checks = ['ok', 'fail', 'inconclusive'].reduce((n, result) => n + (value(e, 'drproxy_health_checks_total', { tenant: 'acme', site: 'a1', result }) ?? 0), 0);
    expect(value(e, 'drproxy_health_check_duration_seconds_count', { tenant: 'acme', site: 'a1' })).toBe(checks);
    expect(value(e, 'drproxy_health_check_duration_seconds_bucket', { tenant: 'acme', site: 'a1', le: '+Inf' })).toBe(checks);
    expect(value(e, 'drproxy_health_check_duration_seconds_sum', { tenant: 'acme', site: 'a1' })).toBeGreaterThan(0);
    expect(value(e, 'drproxy_site_data_age_seconds', { tenant: 'acme', site: 'b1' })).toBe(12);
    expect(value(e, 'drproxy_rpo_seconds', { tenant: 'acme', tier: 'BC' })).toBe(900);
  });

  it('keeps one registry per proxy instance', async () => {
    const q = await startProxy({ tenants: { other: { tier: 'BC', hosts: ['o.example.com'], sites: [{ name: 's', backends: [a1.url] }] } } });
    try {
      const e = parseExposition((await admin(q.adminUrl, 'GET', '/metrics')).text);
      expect(value(e, 'drproxy_epoch', { tenant: 'other' })).toBe(1);
      expect(value(e, 'drproxy_epoch', { tenant: 'acme' })).toBeUndefined();
    } finally {
      await q.stop();
    }
  });
});
