import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s' } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

async function hit(): Promise<{ status: number; site?: string; body: string }> {
  const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
  return { status: r.statusCode, site: r.headers['x-site'] as string | undefined, body: await r.body.text() };
}

describe('all sites down', () => {
  it('answers 503 with a clear body and freezes the tenant', async () => {
    const t = p.proxy.tenant('t')!;
    await Promise.all([primary.kill('SIGKILL'), backup.kill('SIGKILL')]);
    await waitFor(() => t.state.phase === 'frozen', { what: 'frozen' });
    expect(t.state.frozen_cause).toBe('no_site');
    const r = await hit();
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/tenant is frozen \(no_site\): no site can take traffic/);
  });

  it('recovers on its own to the most preferred site that comes back', async () => {
    const t = p.proxy.tenant('t')!;
    const epoch = t.state.epoch;
    await backup.restart();
    await waitFor(async () => (await hit()).site === 'b1', { what: 'traffic on b1' });
    expect(t.state.phase).toBe('active');
    expect(t.state.epoch).toBeGreaterThanOrEqual(epoch);
  });
});
