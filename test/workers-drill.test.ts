/**
 * A drill under server.workers: the main thread opens no data-plane listener, so the drill's
 * verification requests go to the address the workers listen on (the first plain listener) and
 * pass through a worker; /readyz counts a threaded proxy ready only while a worker listens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { workers: 2 },
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
    drills: { dwell: '200ms', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a drill with data-plane workers', () => {
  it('verifies through the workers\u2019 listener and passes', async () => {
    expect(p.proxy.ready()).toEqual({ ready: true, reasons: [] });
    const start = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'drill under workers' } });
    expect(start.status, start.text).toBe(202);
    const r = await p.proxy.drills!.done(start.body.id as string);
    expect(r.status, JSON.stringify({ reasons: r.reasons, steps: r.steps })).toBe('passed');
    expect(r.steps.find((s) => s.name === 'verify')?.result).toBe('ok');
    expect((await b1.stats()).byPath['/drill-check'] ?? 0).toBeGreaterThan(0);
  }, 30_000);
});
