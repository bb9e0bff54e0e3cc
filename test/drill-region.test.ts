/**
 * A region drill (the annual full-scale test) through a real drproxy: 100 tenants whose active
 * site is in region A, each with a standby in region B, all served by two real upstream
 * processes (one per region; each echoes the site and epoch drproxy stamps, which is how each
 * drill verifies through the data plane). POST /drills drills them 25 at a time; the summary
 * lists all 100 with their measured RTOs, the slowest and the totals, and every tenant is back
 * on its region A site. A tenant whose active site is in region B is not drilled; a tenant of
 * region A whose standby is down is listed as refused without stopping the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport, RegionDrillReport } from '../src/drill/types.js';

const N = 100;
let a: Upstream, b: Upstream;
let p: TestProxy;

const name = (i: number): string => `t${String(i).padStart(3, '0')}`;

beforeAll(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  const tenants: Record<string, unknown> = {};
  for (let i = 0; i < N; i++) {
    tenants[name(i)] = { tier: 'BC', hosts: [`${name(i)}.example.com`], sites: [{ name: 'a', region: 'A', backends: [a.url] }, { name: 'b', region: 'B', backends: [b.url] }] };
  }
  // Active in region B: not part of a drill of region A. Its standby's backend refuses
  // connections (nothing listens on 127.0.0.2:1), so a drill of region B is refused for it.
  // Manual mode: a probe that times out while 100 drills load the machine must not move it.
  tenants.other = { tier: 'BC', hosts: ['other.example.com'], failover: { mode: 'manual' }, sites: [{ name: 'b', region: 'B', backends: [b.url] }, { name: 'a', region: 'A', backends: ['http://127.0.0.2:1'] }] };
  p = await startProxy({
    admin: adminTokens(),
    // Probes that tolerate a loaded machine (2 cores, 100 drills at once): no tenant fails over on its own.
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s', fall: 5 }, failover: { min_interval: '0s', drain_timeout: '1s' } },
    drills: { dwell: '100ms', parallel: 10, verify: { path: '/drill-check', interval: '20ms', timeout: '10s' } },
    tenants,
  });
  const ready = (): boolean => [...p.proxy.controllers.values()].every((c) => c.name === 'other' || c.sites.every((s) => s.health().available));
  await waitFor(ready, { what: 'every site healthy', timeout: 20_000 });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  await stopAll(a, b);
});

describe('a region drill of 100 tenants', () => {
  it('drills every tenant active in region A, in batches, and its summary lists all 100 with measured RTOs', async () => {
    const started = Date.now();
    const res = await admin(p.adminUrl, 'POST', '/drills', { token: OPERATOR, body: { region: 'A', parallel: 25, reason: 'annual full-scale test' } });
    expect(res.status, res.text).toBe(202);
    const id = res.body.id as string;
    expect(res.body).toMatchObject({ status: 'running', region: 'A', parallel: 25, location: `/drills/${id}` });
    // A second region drill of A while this one runs is refused.
    const again = await admin(p.adminUrl, 'POST', '/drills', { token: OPERATOR, body: { region: 'A', reason: 'again' } });
    expect(again.status).toBe(409);

    // Never more than `parallel` tenants off their site at once.
    let most = 0;
    const summary = await waitFor(
      async () => {
        most = Math.max(most, [...p.proxy.controllers.values()].filter((c) => c.state.active !== c.config.sites[0]!.name).length);
        const got = await admin(p.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER });
        const r = got.body as unknown as RegionDrillReport;
        return r.status !== 'running' ? r : undefined;
      },
      { timeout: 90_000, interval: 50, what: 'the region drill to end' },
    );
    const took = Date.now() - started;

    expect(summary.status, JSON.stringify(summary.tenants.filter((t) => !t.passed).slice(0, 3))).toBe('passed');
    expect(summary.tenants).toHaveLength(N);
    expect(summary.tenants.map((t) => t.tenant).sort()).toEqual(Array.from({ length: N }, (_, i) => name(i)));
    for (const t of summary.tenants) {
      expect(t, t.tenant).toMatchObject({ status: 'passed', passed: true, reasons: [], rto_ms: 900_000 });
      expect(t.measured_rto_ms, t.tenant).toBeGreaterThan(0);
      expect(typeof t.drill_id).toBe('string');
    }
    const slowest = Math.max(...summary.tenants.map((t) => t.measured_rto_ms!));
    expect(summary.summary).toMatchObject({ total: N, passed: N, failed: 0, slowest: { measured_rto_ms: slowest } });
    expect(summary.tenants.find((t) => t.tenant === summary.summary!.slowest!.tenant)!.measured_rto_ms).toBe(slowest);
    expect(summary.controls.map((c) => c.control)).toEqual(['A1.3', 'A.5.30']);
    expect(most).toBeLessThanOrEqual(25);
    expect(most).toBeGreaterThan(1);

    // Each tenant's own report is a normal drill, tied to the summary.
    const one = await admin(p.adminUrl, 'GET', `/drills/${summary.tenants[0]!.drill_id!}`, { token: VIEWER });
    expect(one.body as unknown as DrillReport).toMatchObject({ trigger: 'region', region_drill: id, status: 'passed', from: 'a', to: 'b', actor: 'ops' });
    // All back on region A; the tenant active in region B was never drilled.
    for (const c of p.proxy.controllers.values()) expect(c.state.active, c.name).toBe(c.config.sites[0]!.name);
    expect(p.proxy.tenant('other')!.flips).toHaveLength(0);
    // Bounded: 100 drills of ~0.5 s each, 25 at a time.
    expect(took).toBeLessThan(90_000);

    const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(metrics).toContain(`drproxy_drills_total{trigger="region",status="passed"} ${N}`);
    expect(metrics).toMatch(/drproxy_drill_last_success_timestamp_seconds\{tenant="t000",tier="BC"\} \d+/);
    expect(metrics).toContain('drproxy_drill_required_interval_seconds{tier="BC"} 2592000');
  }, 120_000);

  it('lists a tenant whose drill is refused as refused, and drills the others', async () => {
    // Region B: only "other" is active there, and its standby is down.
    const res = await admin(p.adminUrl, 'POST', '/drills', { token: OPERATOR, body: { region: 'B', reason: 'refusal listed' } });
    expect(res.status, res.text).toBe(202);
    const r = await p.proxy.fleetDrills!.regions.done(res.body.id as string);
    expect(r.status).toBe('failed');
    expect(r.tenants).toEqual([expect.objectContaining({ tenant: 'other', status: 'refused', passed: false, reasons: expect.arrayContaining([expect.objectContaining({ code: 'unavailable', site: 'a' })]) })]);
    expect(r.summary).toMatchObject({ total: 1, passed: 0, failed: 1 });
    // No tenant is active in region C.
    const none = await admin(p.adminUrl, 'POST', '/drills', { token: OPERATOR, body: { region: 'C', reason: 'nothing there' } });
    expect(none.status).toBe(404);
    const bad = await admin(p.adminUrl, 'POST', '/drills', { token: OPERATOR, body: { region: 'A', parallel: 0, reason: 'x' } });
    expect(bad.status).toBe(400);
  }, 60_000);
});
