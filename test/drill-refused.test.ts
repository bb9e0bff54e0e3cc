/**
 * A drill whose target is not ready is refused with every reason at once, and nothing changes:
 * stale data, unhealthy, fenced, a hook that failed its check call; also a flip within
 * min_interval and a tenant with only wildcard hosts. The refusal is stored as a report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, b1: Upstream, m1: Upstream, m2: Upstream;
let hook: HookServer;
let p: TestProxy;
/** Nothing listens here: the active site's fence hook of tenant h. */
let deadPort = 0;

const lag = (s: number) => JSON.stringify({ replication: { lag_seconds: s } });

beforeAll(async () => {
  [a1, b1, m1, m2] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('a1'), startUpstream('b1')]);
  hook = await startHookServer();
  const dead = await startHookServer();
  deadPort = dead.port;
  await dead.close();
  await Promise.all([a1, b1, m1, m2].map((u) => u.setHealth(200, lag(0))));
  const site = (name: string, u: Upstream, extra = {}) => ({ name, backends: [u.url], ...extra });
  p = await startProxy(
    {
      admin: adminTokens(),
      defaults: { health_check: { ...FAST_CHECKS, timeout: '1s', data_age: { json_field: 'replication.lag_seconds' } }, failover: { min_interval: '0s' } },
      tenants: {
        t: { tier: 'BC', hosts: ['t.example.com'], sites: [site('a1', a1), site('b1', b1, { promote: { url: `${hook.url}/promote` } })] },
        m: { tier: 'BC', hosts: ['m.example.com'], failover: { min_interval: '1h' }, sites: [site('a1', m1), site('b1', m2)] },
        w: { tier: 'BC', hosts: ['*.w.example.com'], sites: [site('a1', m1), site('b1', m2)] },
        api: { tier: 'BC', hosts: ['api.example.com'], paths: ['/api'], sites: [site('a1', m1), site('b1', m2)] },
        h: { tier: 'BC', hosts: ['h.example.com'], sites: [site('a1', m1, { fence: { url: `http://127.0.0.1:${deadPort}/fence`, timeout: '500ms' } }), site('b1', m2)] },
      },
    },
  );
  await Promise.all(['t', 'm', 'w', 'api', 'h'].map((n) => sitesHealthy(p, n)));
  await waitFor(() => p.proxy.tenant('t')!.sites.every((s) => s.dataAgeSeconds() === 0), { what: 'data ages' });
});

afterAll(async () => {
  await p?.stop();
  await hook?.close();
  await stopAll(a1, b1, m1, m2);
});

async function refused(tenant: string, body: Record<string, unknown> = {}): Promise<Array<{ code: string; site?: string }>> {
  const before = JSON.stringify(p.proxy.tenant(tenant)!.state);
  const r = await admin(p.adminUrl, 'POST', `/tenants/${tenant}/drills`, { token: OPERATOR, body: { reason: 'DR test', dwell: '1s', ...body } });
  expect(r.status, r.text).toBe(409);
  expect(r.body.error).toBe('drill_refused');
  // Nothing changed: same epoch, same active site, same fences.
  expect(JSON.stringify(p.proxy.tenant(tenant)!.state)).toBe(before);
  return r.body.reasons as Array<{ code: string; site?: string }>;
}

const codes = (rs: Array<{ code: string }>) => rs.map((r) => r.code).sort();

describe('drill preflight', () => {
  it('refuses a target whose data age is over the RPO', async () => {
    await b1.setHealth(200, lag(3600));
    await waitFor(() => p.proxy.tenant('t')!.site('b1')!.dataAgeSeconds() === 3600, { what: 'b1 stale' });
    expect(codes(await refused('t', { to: 'b1' }))).toEqual(['stale']);
    await b1.setHealth(200, lag(0));
    await waitFor(() => p.proxy.tenant('t')!.site('b1')!.dataAgeSeconds() === 0, { what: 'b1 fresh' });
  });

  it('refuses a target that is unhealthy', async () => {
    await b1.setHealth(503);
    await waitFor(() => !p.proxy.tenant('t')!.site('b1')!.health().available, { what: 'b1 down' });
    expect(codes(await refused('t'))).toContain('unavailable');
    await b1.setHealth(200, lag(0));
    await sitesHealthy(p, 't');
  });

  it('refuses a target that is fenced', async () => {
    const f = await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance' } });
    expect(f.status).toBe(200);
    expect(codes(await refused('t', { to: 'b1' }))).toEqual(['fenced']);
    await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/unfence', { token: OPERATOR, body: { reason: 'done' } });
  });

  it('refuses a target whose promote hook is unreachable (the preflight asks it for a check)', async () => {
    await hook.close();
    const reasons = await refused('t');
    expect(codes(reasons)).toEqual(['promote_hook_unreachable']);
    expect(reasons[0]).toMatchObject({ site: 'b1', message: expect.stringMatching(/ECONNREFUSED/) });
    hook = await startHookServer(200, 0, hook.port);
  });

  it("refuses a drill whose active site's fence hook is unreachable (the drill fences it on the way out)", async () => {
    const reasons = await refused('h');
    expect(reasons).toEqual([expect.objectContaining({ code: 'fence_hook_unreachable', site: 'a1' })]);
  });

  it('refuses a target whose promote hook answers its check with an error', async () => {
    hook.status = 500;
    expect(codes(await refused('t'))).toEqual(['promote_hook_unreachable']);
    hook.status = 200;
  });

  it('lists every reason at once, and stores the refusal as a report', async () => {
    await b1.setHealth(200, lag(3600));
    await waitFor(() => p.proxy.tenant('t')!.site('b1')!.dataAgeSeconds() === 3600, { what: 'b1 stale' });
    await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance' } });
    hook.status = 500;
    const reasons = await refused('t', { to: 'b1' });
    expect(codes(reasons)).toEqual(['fenced', 'promote_hook_unreachable', 'stale']);
    expect(reasons.every((r) => r.site === 'b1')).toBe(true);
    const list = await admin(p.adminUrl, 'GET', '/drills?tenant=t&limit=1', { token: VIEWER });
    const [last] = list.body.drills as Array<{ id: string; status: string }>;
    expect(last!.status).toBe('refused');
    const report = await admin(p.adminUrl, 'GET', `/drills/${last!.id}`, { token: VIEWER });
    expect(report.body).toMatchObject({ status: 'refused', tenant: 't', from: 'a1', to: 'b1' });
    expect(codes(report.body.reasons as Array<{ code: string }>)).toEqual(['fenced', 'promote_hook_unreachable', 'stale']);
  });

  it('refuses an unknown target, and the active site as target', async () => {
    expect(codes(await refused('t', { to: 'zz' }))).toEqual(['unknown_site']);
    expect(codes(await refused('t', { to: 'a1' }))).toEqual(['same_site']);
  });

  it('refuses a drill within min_interval of the last flip', async () => {
    const f = await admin(p.adminUrl, 'POST', '/tenants/m/failover', { token: OPERATOR, body: { to: 'b1', reason: 'move' } });
    expect(f.status).toBe(200);
    await admin(p.adminUrl, 'POST', '/tenants/m/sites/a1/unfence', { token: OPERATOR, body: { reason: 'ready again' } });
    expect(codes(await refused('m'))).toEqual(['min_interval']);
  });

  it('refuses a tenant with only wildcard hosts and no drill.host', async () => {
    expect(codes(await refused('w'))).toEqual(['no_host']);
  });

  it('refuses a drill whose verify path is outside the tenant\'s paths', async () => {
    expect(codes(await refused('api'))).toEqual(['verify_path']);
  });
});
