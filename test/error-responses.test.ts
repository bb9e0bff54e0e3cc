import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream, gone: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [up, gone] = await Promise.all([startUpstream('s1'), startUpstream('d1')]);
  p = await startProxy({
    // One site only: nothing to fail over to, so drproxy's own answers show.
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: {
      slow: { tier: 'BC', hosts: ['slow.example.com'], proxy: { response_timeout: '300ms' }, sites: [{ name: 's1', backends: [up.url] }] },
      dead: { tier: 'BC', hosts: ['dead.example.com'], sites: [{ name: 'd1', backends: [gone.url] }] },
      down: { tier: 'BC', hosts: ['down.example.com'], failover: { hold_requests: '300ms' }, health_check: { interval: '100ms', timeout: '80ms' }, sites: [{ name: 'x1', backends: ['http://127.0.0.1:9'] }] },
    },
  });
  // d1 dies between probes (30 s apart): still routable, refusing connections.
  await waitFor(() => p.proxy.tenant('dead')!.sites[0]!.health().up === 1, { what: 'd1 up' });
  await gone.kill('SIGKILL');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up, gone);
});

async function get(host: string, path = '/'): Promise<{ status: number; body: string; code?: string; retryAfter?: string }> {
  const r = await request(`${p.url}${path}`, { headers: { host } });
  return { status: r.statusCode, body: await r.body.text(), code: r.headers['x-drproxy-error'] as string, retryAfter: r.headers['retry-after'] as string };
}

describe("drproxy's own answers", () => {
  it('upstream timeout → 504 with a body that says which', async () => {
    const r = await get('slow.example.com', '/slow?ms=2000');
    expect(r).toMatchObject({ status: 504, code: 'upstream_timeout' });
    expect(r.body).toBe('504 Gateway Timeout: site s1 did not answer in time\n');
  });

  it('upstream failure (connection refused) → 502, not naming the backend address', async () => {
    const r = await get('dead.example.com');
    expect(r).toMatchObject({ status: 502, code: 'upstream_failed' });
    expect(r.body).toBe('502 Bad Gateway: could not connect to site d1\n');
  });

  it('no healthy backend → 503 with Retry-After once the hold time is over', async () => {
    await waitFor(() => p.proxy.tenant('down')!.state.phase === 'frozen', { what: 'tenant down frozen' });
    const r = await get('down.example.com');
    expect(r).toMatchObject({ status: 503, code: 'tenant_unavailable', retryAfter: '5' });
    expect(r.body).toMatch(/^503 Service Unavailable: tenant down: tenant is frozen \(no_site\)/);
  });
});
