/**
 * A flip's pre-connect (failover/preconnect.ts) under server.workers: the sockets are opened by
 * the workers, whose pools carry the held requests, not by the main thread (whose Backends serve
 * nothing). The held request goes out on one of them: the backup sees exactly the pre-connected
 * sockets, PRECONNECT_PER_FLIP per worker, and no extra dial.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { PRECONNECT_PER_FLIP } from '../src/failover/preconnect.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { workers: 2 },
    defaults: {
      health_check: { interval: '30s', timeout: '1s', rise: 1, fall: 1, jitter: 0 },
      failover: { hold_requests: '20s', min_interval: '0s' },
      proxy: { keep_alive_timeout: '60s' },
    },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a flip pre-connects from the workers', () => {
  it('opens PRECONNECT_PER_FLIP sockets per worker and none from the main thread; the held request uses one', async () => {
    const workers = p.proxy.threads!.ids().length;
    const warm = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    await warm.body.dump();
    expect((await b1.stats()).fresh).toBe(0);
    await a1.kill('SIGKILL');
    // Until every worker's pool has met the kill, a request may land on a worker whose pool
    // still holds a dead connection: it is retried, and answered by b1 all the same.
    const r = await request(`${p.url}/x`, { headers: { host: 't.example.com' }, headersTimeout: 15_000 });
    const body = (await r.body.json()) as { site: string; headers: Record<string, string> };
    expect(r.statusCode).toBe(200);
    expect(body.site).toBe('b1');
    expect(p.proxy.tenant('t')!.flips.at(-1)).toMatchObject({ from: 'a1', to: 'b1', epoch: 2 });
    const main = p.proxy.tenant('t')!.site('b1')!.backends[0]!.backend.standbySockets;
    expect(main).toEqual({ idle: 0, taken: 0 });
    await waitFor(async () => {
      const s = await b1.stats();
      return s.stampedOpen + s.fresh === PRECONNECT_PER_FLIP * workers;
    }, { what: `${PRECONNECT_PER_FLIP} connections per worker on b1` });
    expect((await b1.stats()).requests).toBe(1);
  });
});
