/**
 * proxy.standby_connections under server.workers (src/workers/): each worker keeps its own warm
 * sockets to the standby site (its pool takes them after a flip), the main thread none, the
 * tenant status shows their sum per backend, and a flip moves them to the next standby site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const N = 2;
let a1: Upstream, b1: Upstream, c1: Upstream;
let p: TestProxy;
let workers = 0;

beforeAll(async () => {
  [a1, b1, c1] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('c1')]);
  p = await startProxy({
    server: { workers: 2 },
    defaults: { health_check: { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 }, failover: { min_interval: '0s' }, proxy: { standby_connections: N, keep_alive_timeout: '60s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: ['a1', 'b1', 'c1'].map((name, i) => ({ name, backends: [[a1, b1, c1][i]!.url] })) } },
  });
  await sitesHealthy(p, 't');
  workers = p.proxy.threads!.ids().length;
});

/** `site:standby_connections` of each site's backend, as the tenant status shows them. */
function standbyShown(): string[] {
  const status = p.proxy.tenantStatus('t', false) as { sites: Array<{ name: string; backends: Array<{ standby_connections?: number }> }> };
  return status.sites.map((s) => `${s.name}:${s.backends[0]!.standby_connections}`);
}

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1, c1);
});

describe('standby connections with data-plane workers', () => {
  it('keeps N warm sockets per worker to the standby site, none from the main thread, shows their sum in the tenant status, and moves them at a flip', async () => {
    await waitFor(async () => (await b1.stats()).fresh === N * workers, { what: `${N} fresh connections per worker on b1` });
    expect((await c1.stats()).fresh).toBe(0);
    // The tenant status (GET /tenants/t) shows the workers' warm sockets per backend, summed
    // (the main thread's Backends serve nothing and keep none: b1 counts N per worker, no more).
    await waitFor(() => standbyShown().join() === ['a1:0', `b1:${N * workers}`, 'c1:0'].join(), { what: `status shows ${N * workers} standby connections on b1` });
    const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    await r.body.dump();
    expect(r.headers['x-site']).toBe('a1');
    expect((await b1.stats()).requests).toBe(0);
    await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'move', actor: 'test' });
    // b1 is active now (its pool took or keeps its sockets); the next standby is c1... or a1, fenced: c1.
    await waitFor(async () => (await c1.stats()).fresh === N * workers, { what: `${N} fresh connections per worker on c1` });
    // (b1, active now, keeps what its pools did not take, not replaced: as inline.)
    await waitFor(() => standbyShown()[2] === `c1:${N * workers}`, { what: `status shows ${N * workers} standby connections on c1` });
    expect(standbyShown()[0]).toBe('a1:0');
  });
});
