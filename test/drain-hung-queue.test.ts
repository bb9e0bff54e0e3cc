/**
 * A flip away from a hung site re-sends the requests queued for it, and does not dial the hung
 * site again for them. undici keeps requests that found no free connection in its pool's
 * queue; after the drain re-sends them elsewhere, a graceful close of that pool would still
 * connect to the old site once per queued request, only to abort each one — hundreds of
 * useless connects in the burst right after a flip from a hung site. The drain destroys such a
 * pool instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const QUEUED = 20;
let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    // Slow checks: the flip is the operator's, and no probe opens connections meanwhile.
    defaults: { health_check: { interval: '20s', timeout: '1s', rise: 1, fall: 1, jitter: 0 }, failover: { hold_requests: '5s' }, proxy: { max_connections: 2 } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('drain of a hung site', () => {
  it('re-sends the requests queued for it without connecting to it again', async () => {
    const before = (await primary.stats()).connections;
    await primary.kill('SIGSTOP');
    try {
      const h = { host: 't.example.com' };
      const answers = Array.from({ length: QUEUED }, () => request(`${p.url}/`, { headers: h }).then(async (r) => ({ status: r.statusCode, site: r.headers['x-site'], body: await r.body.text() })));
      const a1 = p.proxy.tenant('t')!.site('a1')!.backends[0]!.backend;
      // 2 on the pool's connections, the rest queued inside undici.
      await waitFor(() => a1.calls.size === QUEUED, { what: `${QUEUED} calls on the hung a1` });
      const record = await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'a1 hung', actor: 'test' });
      expect(record.drain).toMatchObject({ inflight: QUEUED, redispatched: QUEUED, cut: 0 });
      for (const a of await Promise.all(answers)) expect(a).toMatchObject({ status: 200, site: 'b1' });
      // The old pool is destroyed once the new route is out (not on the flip's critical path).
      const pool = () => (a1 as unknown as { livePool?: { destroyed: boolean } }).livePool;
      await waitFor(() => pool()?.destroyed === true, { what: "a1's pool destroyed" });
    } finally {
      await primary.kill('SIGCONT');
    }
    // Once it runs again, the process accepts what the kernel queued for it, in order: a stats
    // request on a new connection is accepted after every connection made while it was stopped.
    const fresh = new Client(primary.url);
    try {
      const r = await fresh.request({ path: '/__stats', method: 'GET' });
      const after = ((await r.body.json()) as { connections: number }).connections;
      // The pool's two connections and this one: not one per queued request.
      expect(after - before).toBeLessThanOrEqual(4);
    } finally {
      await fresh.close();
    }
  });
});
