/**
 * A drill against real local sites: preflight, planned failover (trigger drill), verification
 * through drproxy's own listener, dwell, failback, restore; the report names its measured RTO.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    // Automatic failback with no hold-down: it must not pull the tenant off b1 during the dwell.
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', failback: 'auto', failback_after: '0s' } },
    drills: { dwell: '1s', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } },
    tenants: { t: { tier: 'BC', hosts: ['*.t.example.com', 't.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a drill that passes', () => {
  it('fails over to the standby, verifies it through the data plane, fails back and restores the standby', async () => {
    const t = p.proxy.tenant('t')!;
    const before = t.state.epoch;
    const start = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'quarterly DR test', dwell: '1500ms' } });
    expect(start.status, start.text).toBe(202);
    expect(start.body).toMatchObject({ status: 'running', from: 'a1', to: 'b1', location: `/drills/${start.body.id as string}` });
    const id = start.body.id as string;
    // One drill per tenant at a time.
    const second = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'again' } });
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('drill_running');
    // During the dwell the tenant stays on b1 (auto failback is held back).
    await waitFor(() => t.state.active === 'b1', { what: 'the drill on b1' });
    const r = await p.proxy.drills!.done(id);

    expect(r.status, JSON.stringify(r.reasons)).toBe('passed');
    expect(typeof r.measured_rto_ms).toBe('number');
    expect(r.measured_rto_ms).toBeGreaterThan(0);
    expect(r.measured_rto_ms!).toBeLessThan(r.rto_ms);
    expect(typeof r.failback_rto_ms).toBe('number');
    expect(r.epochs.before).toBe(before);
    expect(r.epochs.before).toBeLessThan(r.epochs.drill!);
    expect(r.epochs.drill!).toBeLessThan(r.epochs.after!);
    expect(r.steps.map((s) => [s.name, s.result])).toEqual([
      ['preflight', 'ok'],
      ['failover', 'ok'],
      ['verify', 'ok'],
      ['dwell', 'ok'],
      ['failback', 'ok'],
      ['verify_failback', 'ok'],
      ['restore', 'ok'],
    ]);
    const dwell = r.steps.find((s) => s.name === 'dwell')!;
    expect(dwell.duration_ms).toBeGreaterThanOrEqual(1500);
    expect(r.tier).toEqual({ name: 'BC', rpo_seconds: 900, rto_seconds: 900 });
    expect(r.controls.map((c) => c.control)).toEqual(['A1.3', 'A.5.30']);
    expect(r.actor).toBe('ops');
    // The synthetic requests reached b1 with the drill's host and path, and are not counted as traffic.
    expect((await b1.stats()).byPath['/drill-check']).toBeGreaterThan(0);
    expect(r.traffic).toMatchObject({ requests: 0, errors: 0 });

    // Back on the original site; neither site fenced (the standby is ready for the next drill or disaster).
    expect(t.state).toMatchObject({ active: 'a1', phase: 'active', fenced: [] });
    expect(t.flips.slice(-2).map((f) => f.trigger)).toEqual(['drill', 'drill']);

    // Stored durably in the state directory, and served by the admin API.
    const file = JSON.parse(await readFile(join(p.stateDir, 'drills', `${id}.json`), 'utf8')) as DrillReport;
    expect(file).toMatchObject({ id, status: 'passed', measured_rto_ms: r.measured_rto_ms });
    const got = await admin(p.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, status: 'passed' });
    const list = await admin(p.adminUrl, 'GET', '/drills?tenant=t', { token: VIEWER });
    expect(list.body.drills).toEqual([expect.objectContaining({ id, tenant: 't', status: 'passed' })]);
  }, 30_000);
});
