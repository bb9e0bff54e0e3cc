/**
 * Issue 17 item 3: at `metrics.detail: tenant` a tenant with 2 sites × 1 backend has at most
 * 16 series (issue 17's 15, plus issue 19's drproxy_standby_ready), idle and after a region failover, with no per-site or per-backend series and no
 * per-tenant histogram; the folded series (no tenant label) keep fleet totals exact; a tenant
 * in `metrics.full_detail` keeps backend detail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition, type Exposition } from './helpers/prom.js';

const FOLDED = ['acme', 'beta', 'coco'];
let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const tenants: Record<string, unknown> = {};
  for (const t of [...FOLDED, 'gold']) tenants[t] = twoSiteTenant(`${t}.example.com`, a1, b1);
  p = await startProxy({ metrics: { detail: 'tenant', full_detail: ['gold'] }, defaults: { health_check: FAST_CHECKS }, tenants });
  for (const t of [...FOLDED, 'gold']) await sitesHealthy(p, t);
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

async function scrape(): Promise<Exposition> {
  return parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
}

function seriesOf(e: Exposition, tenant: string): string[] {
  return e.samples.filter((s) => s.labels.tenant === tenant).map((s) => `${s.name}${JSON.stringify(s.labels)}`);
}

function expectTenantDetail(e: Exposition): void {
  for (const t of FOLDED) {
    const series = seriesOf(e, t);
    expect(series.length, series.join('\n')).toBeLessThanOrEqual(16);
    // No per-site series but the active site's, no per-backend series, no histogram.
    expect(series.filter((s) => s.includes('"site"') && !s.startsWith('drproxy_active_site{'))).toEqual([]);
    expect(series.filter((s) => s.includes('"backend"') || /_bucket|_sum|_count/.test(s))).toEqual([]);
  }
  expect(seriesOf(e, 'gold').some((s) => s.startsWith('drproxy_backend_up{'))).toBe(true);
  expect(seriesOf(e, 'gold').some((s) => s.startsWith('drproxy_request_duration_seconds_count{'))).toBe(true);
}

async function send(tenant: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await request(`${p.url}/`, { headers: { host: `${tenant}.example.com` } });
    await r.body.dump();
  }
}

function sum(e: Exposition, name: string, pred: (l: Record<string, string>) => boolean = () => true): number {
  return e.samples.filter((s) => s.name === name && pred(s.labels)).reduce((n, s) => n + s.value, 0);
}

/** The names issue 17 fixes for alert rules and dashboards: declared at every detail level. */
const FIXED = [
  'tenant_phase', 'tenant_on_preferred_site', 'tenant_sites_unavailable', 'tenant_sites_stale', 'tenant_sites_fenced', 'tenant_backends_down',
  'failover_rto_ratio', 'failover_rto_ratio_worst', 'active_site', 'epoch', 'failovers_total', 'requests_total', 'backend_up', 'backend_ejections_total',
  'build_info', 'config_last_reload_successful', 'config_last_reload_success_timestamp_seconds', 'probes_inconclusive_total',
  'state_commit_failures_total', 'audit_records_dropped_total', 'connections_refused_total', 'tenants', 'admin_requests_total',
].map((n) => `drproxy_${n}`);

describe('metrics.detail: tenant', () => {
  it('declares every name fixed for issue 17', async () => {
    const e = await scrape();
    expect(FIXED.filter((n) => !e.types.has(n))).toEqual([]);
  });

  it('keeps a tenant to 16 series, idle and after a region failover, with exact fleet totals', async () => {
    await send('acme', 3);
    await send('beta', 2);
    await send('gold', 4);
    const idle = await scrape();
    expectTenantDetail(idle);
    expect(sum(idle, 'drproxy_requests_total')).toBe(9);
    // Fleet latency series (no tenant) + gold's own: every request counted once.
    expect(sum(idle, 'drproxy_request_duration_seconds_count')).toBe(9);
    expect(sum(idle, 'drproxy_request_duration_seconds_count', (l) => l.tenant === undefined)).toBe(5);
    expect(sum(idle, 'drproxy_health_checks_total', (l) => l.tenant === undefined)).toBeGreaterThan(0);
    expect(sum(idle, 'drproxy_health_check_duration_seconds_count')).toBe(sum(idle, 'drproxy_health_checks_total'));

    await a1.setHealth(503);
    await waitFor(() => [...FOLDED, 'gold'].every((t) => p.proxy.tenant(t)!.state.active === 'b1' && p.proxy.tenant(t)!.state.phase === 'active'), { what: 'region failover' });
    // A flip is counted once it finished (its completion committed), a moment after it routed.
    await waitFor(async () => {
      const e = await scrape();
      return FOLDED.every((t) => e.samples.some((s) => s.name === 'drproxy_failovers_total' && s.labels.tenant === t && s.value === 1));
    }, { what: 'every flip counted' });
    await send('coco', 1);
    const after = await scrape();
    expectTenantDetail(after);
    for (const t of FOLDED) {
      expect(after.samples.find((s) => s.name === 'drproxy_failovers_total' && s.labels.tenant === t && s.labels.trigger === 'health')?.value).toBe(1);
      expect(after.samples.find((s) => s.name === 'drproxy_failover_rto_ratio_worst' && s.labels.tenant === t)!.value).toBeGreaterThan(0);
    }
    expect(sum(after, 'drproxy_requests_total')).toBe(10);
    expect(sum(after, 'drproxy_request_duration_seconds_count')).toBe(10);
    // Failover durations: by tier and trigger for the folded tenants, per tenant for gold.
    expect(sum(after, 'drproxy_failover_duration_seconds_count', (l) => l.tenant === undefined && l.trigger === 'health')).toBe(3);
    expect(sum(after, 'drproxy_failover_duration_seconds_count', (l) => l.tenant === 'gold')).toBe(1);
  });
});
