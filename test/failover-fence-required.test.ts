import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;
let hooks: HookServer;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  hooks = await startHookServer(500);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS },
    tenants: {
      t: {
        tier: 'DR1',
        hosts: ['t.example.com'],
        sites: [
          { name: 'a1', backends: [primary.url], fence: { url: `${hooks.url}/fence`, required: true, timeout: '1s' } },
          { name: 'b1', backends: [backup.url], promote: { url: `${hooks.url}/promote` } },
        ],
      },
    },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  await hooks?.close();
});

describe('a required fence hook that fails while the old site still answers', () => {
  it('does not promote: the tenant is frozen, answers 503 and says why in the log', async () => {
    const t = p.proxy.tenant('t')!;
    const record = await t.operatorFailover({ to: 'b1', reason: 'drill', actor: 'test' });
    expect(record.result).toBe('frozen');
    expect(record.fence).toMatchObject({ ok: false, status: 500 });
    expect(hooks.calls.map((c) => c.path)).toEqual(['/fence']); // promote never called
    expect(hooks.calls[0]!.body).toMatchObject({ action: 'fence', tenant: 't', site: 'a1', epoch: 2 });
    expect(t.state).toMatchObject({ phase: 'frozen', frozen_cause: 'fence_failed', epoch: 2 });
    const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    expect(r.statusCode).toBe(503);
    expect(await r.body.text()).toMatch(/tenant t: tenant is frozen \(fence_failed\)/);
    expect((await backup.stats()).requests).toBe(0);
    const alert = p.logs.find((l) => l.alert === true && String(l.msg).includes('required fence hook on a1 failed'));
    expect(alert).toBeDefined();
    expect(alert!.level).toBe('error');
  });

  it('stays frozen when health changes: an operator decides', async () => {
    const t = p.proxy.tenant('t')!;
    await primary.setHealth(503);
    await waitFor(() => t.site('a1')!.backends[0]!.health.check.state === 'down', { what: 'a1 down' });
    expect(t.state.phase).toBe('frozen');
  });

  it('an operator can force the failover once the old site is known down', async () => {
    const t = p.proxy.tenant('t')!;
    const record = await t.operatorFailover({ to: 'b1', reason: 'a1 confirmed down', actor: 'test', force: true });
    // The fence hook still fails, but a1 is now confirmed down by its health checks.
    expect(record).toMatchObject({ result: 'routed', to: 'b1', epoch: 3 });
    const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    expect(r.headers['x-site']).toBe('b1');
    await r.body.dump();
  });
});
