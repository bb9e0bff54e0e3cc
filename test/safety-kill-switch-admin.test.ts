/**
 * POST /automatic (docs/safety.md): validated, operator only, audited; while automatic flips
 * are off an operator's forced failover still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { STEADY_CHECKS } from './helpers/steady-checks.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream, p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({ admin: adminTokens(), defaults: { health_check: STEADY_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', primary, backup) } });
  await sitesHealthy(p);
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('POST /automatic', () => {
  it('refuses a bad body, a viewer token, and no reason', async () => {
    expect((await admin(p.adminUrl, 'POST', '/automatic', { token: OPERATOR, body: { enabled: 'no', reason: 'x' } })).status).toBe(400);
    expect((await admin(p.adminUrl, 'POST', '/automatic', { token: OPERATOR, body: { enabled: false } })).status).toBe(400);
    expect((await admin(p.adminUrl, 'POST', '/automatic', { token: OPERATOR, body: { enabled: false, reason: 'x', extra: 1 } })).status).toBe(400);
    expect((await admin(p.adminUrl, 'POST', '/automatic', { token: VIEWER, body: { enabled: false, reason: 'x' } })).status).toBe(403);
    expect(p.proxy.safety().gate.automatic.enabled).toBe(true);
  });

  it('turns automatic flips off (audited); a failing primary is not flipped automatically; an operator flip still works', async () => {
    const off = await admin(p.adminUrl, 'POST', '/automatic', { token: OPERATOR, body: { enabled: false, reason: 'network maintenance' } });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, by: 'ops', reason: 'network maintenance' });
    expect(p.logs.some((l) => l.audit === true && l.action === 'automatic' && l.reason === 'network maintenance')).toBe(true);
    // a1 fails: the automatic flip to b1 is wanted, and held; an operator's flip still goes.
    await primary.setHealth(503);
    try {
      await waitFor(() => p.logs.some((l) => l.alert === true && String(l.msg).startsWith('automatic flips are OFF') && String(l.msg).includes('flip to b1')), { what: 'the held flip alert' });
      expect(p.proxy.tenant('t')!.state.active).toBe('a1');
      expect(p.proxy.safety().gate.heldTenants()).toEqual(['t']);
      const flip = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'b1', reason: 'operator flip while automatic is off' } });
      expect(flip.status).toBe(200);
      expect(flip.body).toMatchObject({ to: 'b1', result: 'routed' });
    } finally {
      await primary.setHealth(200);
    }
  });
});
