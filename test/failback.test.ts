import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream | undefined, backup: Upstream | undefined;
let p: TestProxy | undefined;

afterEach(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});
afterAll(() => undefined);

async function setup(failover: Record<string, unknown>): Promise<TestProxy> {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s', ...failover } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p!, 't');
  return p;
}

async function site(): Promise<string | undefined> {
  const r = await request(`${p!.url}/`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return r.headers['x-site'] as string | undefined;
}

describe('failback', () => {
  it('manual (default): an operator failback unfences the primary and moves traffic back with a new epoch', async () => {
    await setup({});
    const t = p!.proxy.tenant('t')!;
    await primary!.setHealth(503);
    await waitFor(() => t.state.active === 'b1', { what: 'failover' });
    await primary!.setHealth(200);
    await waitFor(() => t.site('a1')!.health().available, { what: 'a1 healthy' });
    expect(t.state.fenced).toEqual(['a1']);
    expect(await site()).toBe('b1');
    const r = await t.failback({ reason: 'a1 repaired', actor: 'test' });
    expect(r).toMatchObject({ from: 'b1', to: 'a1', epoch: 3, trigger: 'failback' });
    expect(t.state.fenced).toEqual(['b1']);
    expect(await site()).toBe('a1');
  });

  it('auto: fails back once the preferred site has been healthy for failback_after', async () => {
    await setup({ failback: 'auto', failback_after: '600ms' });
    const t = p!.proxy.tenant('t')!;
    await primary!.setHealth(503);
    await waitFor(() => t.state.active === 'b1', { what: 'failover' });
    await primary!.setHealth(200);
    const healthyAt = await waitFor(() => (t.site('a1')!.health().available ? Date.now() : 0), { what: 'a1 healthy' });
    await waitFor(() => t.state.active === 'a1', { what: 'auto failback', timeout: 5000 });
    const flip = t.flips.at(-1)!;
    expect(flip.trigger).toBe('failback');
    expect(flip.timings.routedAt - healthyAt).toBeGreaterThanOrEqual(550);
    expect(await site()).toBe('a1');
  });
});
