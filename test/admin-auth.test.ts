import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: FAST_CHECKS },
    tenants: { acme: twoSiteTenant('acme.example.com', a1, b1) },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

const failover = (token: string | undefined, body: unknown = { reason: 'test' }, contentType?: string) =>
  admin(p.adminUrl, 'POST', '/tenants/acme/failover', { ...(token && { token }), body, ...(contentType && { contentType }) });

describe('admin API authentication and errors', () => {
  it('serves /healthz, /readyz and /metrics without a token', async () => {
    expect((await admin(p.adminUrl, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await admin(p.adminUrl, 'GET', '/readyz')).body).toEqual({ ready: true });
    const m = await admin(p.adminUrl, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/^# HELP drproxy_/m);
  });

  it('no token → 401, with a JSON body', async () => {
    const r = await failover(undefined);
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'unauthorized', detail: expect.stringMatching(/Bearer token is required/) });
    expect((await admin(p.adminUrl, 'GET', '/status')).status).toBe(401);
  });

  it('a wrong token → 401', async () => {
    expect((await failover('not-a-token')).status).toBe(401);
  });

  it('a viewer token on a mutation → 403, but it may read', async () => {
    const r = await failover(VIEWER);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'forbidden', detail: expect.stringMatching(/role viewer; this needs operator/) });
    expect((await admin(p.adminUrl, 'GET', '/status', { token: VIEWER })).status).toBe(200);
  });

  it('a wrong content type → 415', async () => {
    const r = await failover(OPERATOR, 'reason=x', 'application/x-www-form-urlencoded');
    expect(r.status).toBe(415);
    expect(r.body.error).toBe('unsupported_media_type');
  });

  it('a body that is not a JSON object, or lacks a reason → 400', async () => {
    expect((await failover(OPERATOR, '{nope')).status).toBe(400);
    expect((await failover(OPERATOR, '[1]')).status).toBe(400);
    const r = await failover(OPERATOR, {});
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/"reason" is required/);
    expect((await failover(OPERATOR, { reason: 'x', hurry: true })).body.detail).toMatch(/unknown field "hurry"/);
  });

  it('unknown tenant, site or backend → 404', async () => {
    expect((await admin(p.adminUrl, 'GET', '/tenants/nope', { token: VIEWER })).status).toBe(404);
    expect((await admin(p.adminUrl, 'POST', '/tenants/nope/failover', { token: OPERATOR, body: { reason: 'x' } })).status).toBe(404);
    expect((await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { reason: 'x', to: 'zz' } })).status).toBe(404);
    expect((await admin(p.adminUrl, 'POST', '/tenants/acme/sites/zz/fence', { token: OPERATOR, body: { reason: 'x' } })).status).toBe(404);
    expect((await admin(p.adminUrl, 'POST', '/tenants/acme/sites/a1/backends/zz/drain', { token: OPERATOR, body: { reason: 'x' } })).status).toBe(404);
    expect((await admin(p.adminUrl, 'GET', '/nothing-here', { token: VIEWER })).status).toBe(404);
  });

  it('failover to a fenced site without force → 409', async () => {
    const f = await admin(p.adminUrl, 'POST', '/tenants/acme/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance' } });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({ tenant: 'acme', site: 'b1', fenced: ['b1'] });
    const r = await failover(OPERATOR, { reason: 'x', to: 'b1' });
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/b1 is fenced/);
    expect((await admin(p.adminUrl, 'POST', '/tenants/acme/sites/a1/fence', { token: OPERATOR, body: { reason: 'x' } })).status).toBe(409);
    await admin(p.adminUrl, 'POST', '/tenants/acme/sites/b1/unfence', { token: OPERATOR, body: { reason: 'done' } });
  });

  it('a malformed %-escape in the path is a 400, and the proxy keeps running', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/%E0%A4%A/failover', { token: OPERATOR, body: { reason: 'x' } });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/malformed %-escape/);
    expect((await admin(p.adminUrl, 'GET', '/healthz')).status).toBe(200);
  });

  it('never sends CORS headers and refuses other methods', async () => {
    const r = await admin(p.adminUrl, 'GET', '/status', { token: VIEWER });
    expect(Object.keys(r.headers).some((h) => h.startsWith('access-control'))).toBe(false);
    expect((await admin(p.adminUrl, 'GET', '/tenants/acme/failover', { token: OPERATOR })).status).toBe(405);
  });

  it('audits refused calls too, and never logs a token', async () => {
    // The first anonymous refusal in full (later ones from the same address are summed, see
    // test/admin-refused-summary.test.ts); the viewer's 403 in full (it has a name).
    const refused = p.logs.filter((l) => l.audit === true && l.event === 'admin' && l.result === 'denied');
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.some((l) => l.actor === 'grafana' && l.status === 403)).toBe(true);
    expect(refused[0]).toMatchObject({ action: 'failover', actor: 'anonymous', status: 401 });
    const all = JSON.stringify(p.logs);
    expect(all).not.toContain(OPERATOR);
    expect(all).not.toContain(VIEWER);
  });
});

describe('a config with no operator token', () => {
  it('says so at start-up and refuses mutations with 403', async () => {
    process.env.DRP_TEST_VIEWER_ONLY = VIEWER;
    const q = await startProxy({
      admin: { tokens: [{ name: 'grafana', role: 'viewer', token_env: 'DRP_TEST_VIEWER_ONLY' }] },
      tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }] } },
    });
    try {
      expect(q.logs.some((l) => String(l.msg).includes('no operator token is configured'))).toBe(true);
      const r = await admin(q.adminUrl, 'POST', '/tenants/acme/failover', { token: VIEWER, body: { reason: 'x' } });
      expect(r.status).toBe(403);
      expect(r.body.detail).toMatch(/mutations are disabled/);
    } finally {
      await q.stop();
    }
  });

  it('with metrics_auth, /metrics needs a token', async () => {
    const q = await startProxy({
      admin: { ...adminTokens(), metrics_auth: true },
      tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }] } },
    });
    try {
      expect((await admin(q.adminUrl, 'GET', '/metrics')).status).toBe(401);
      expect((await admin(q.adminUrl, 'GET', '/metrics', { token: VIEWER })).status).toBe(200);
    } finally {
      await q.stop();
    }
  });
});
