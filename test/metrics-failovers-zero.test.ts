/**
 * Issue 17 item 4: drproxy_failovers_total exists at 0 for every trigger (result routed) as soon
 * as a tenant is loaded, so that increase() over the first failover sees it; at tenant detail
 * the automatic trigger (health) is initialised (docs/metrics.md says why not the others).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, twoSiteTenant } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { parseExposition, value } from './helpers/prom.js';

const TRIGGERS = ['health', 'admin', 'failback', 'recovery', 'drill', 'config'];
let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    metrics: { detail: 'auto', detail_auto_limit: 1, full_detail: ['full'] },
    defaults: { health_check: FAST_CHECKS },
    // Two tenants above a limit of 1: tenant detail, except `full` (full_detail).
    tenants: { acme: twoSiteTenant('acme.example.com', a1, b1), full: twoSiteTenant('full.example.com', a1, b1) },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('drproxy_failovers_total before the first failover', () => {
  it('is 0 for every trigger at backend detail, and for health at tenant detail', async () => {
    const after = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    for (const trigger of TRIGGERS) expect(value(after, 'drproxy_failovers_total', { tenant: 'full', trigger, result: 'routed' }), trigger).toBe(0);
    expect(value(after, 'drproxy_failovers_total', { tenant: 'acme', trigger: 'health', result: 'routed' })).toBe(0);
    expect(value(after, 'drproxy_failovers_total', { tenant: 'acme', trigger: 'admin', result: 'routed' })).toBeUndefined();
  });
});
