/**
 * Issue 23, item 3: a flip opens connections to its target while it persists the new epoch
 * (failover/preconnect.ts), and the request held for the flip is released on one of them
 * instead of dialling. With `proxy.standby_connections: 0` (the default) nothing is open to the
 * backup before the flip, and nothing is sent on the new connections before the route is out.
 * The primary is a real child process, SIGKILLed; probes are 30 s apart, so the flip comes from
 * the request's own refused connection (passive health).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { PRECONNECT_PER_FLIP } from '../src/failover/preconnect.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

const backupBackend = () => p.proxy.tenant('t')!.site('b1')!.backends[0]!.backend;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
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

describe('a flip pre-connects to its target while it persists the epoch', () => {
  it('releases the held request on a pre-connected socket', async () => {
    // Warm the primary's pool, so that the kill also leaves a dead keep-alive connection.
    const warm = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    await warm.body.dump();
    expect(backupBackend().standbySockets).toEqual({ idle: 0, taken: 0 });
    expect((await b1.stats()).fresh).toBe(0); // no connection open and unused
    await a1.kill('SIGKILL');
    const r = await request(`${p.url}/x`, { headers: { host: 't.example.com' }, headersTimeout: 15_000 });
    const body = (await r.body.json()) as { site: string; headers: Record<string, string> };
    expect(r.statusCode).toBe(200);
    expect(body.site).toBe('b1');
    expect(body.headers['x-dr-epoch']).toBe('2');
    // The pool took a pre-connected socket for it rather than dialling one.
    expect(backupBackend().standbySockets.taken).toBeGreaterThanOrEqual(1);
    const flip = p.proxy.tenant('t')!.flips.at(-1)!;
    expect(flip).toMatchObject({ from: 'a1', to: 'b1', epoch: 2, trigger: 'health' });
    expect(flip.timings.persistedAt).toBeLessThanOrEqual(flip.timings.routedAt);
    // At most PRECONNECT_PER_FLIP were opened, one of them now used, none replaced once taken.
    const stats = await b1.stats();
    expect(stats.requests).toBe(1);
    expect(stats.stampedOpen).toBe(1);
    expect(stats.fresh).toBeLessThanOrEqual(PRECONNECT_PER_FLIP - 1);
  });

  it('opens nothing more afterwards (standby_connections stays 0)', async () => {
    const before = await b1.stats();
    for (let i = 0; i < PRECONNECT_PER_FLIP + 2; i++) {
      const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
      await r.body.dump();
    }
    // Sequential requests reuse one keep-alive connection (or a pre-connected one): no refill.
    const after = await b1.stats();
    expect(after.requests).toBe(PRECONNECT_PER_FLIP + 3);
    expect(after.fresh).toBeLessThanOrEqual(before.fresh);
    expect(after.stampedOpen + after.fresh).toBeLessThanOrEqual(before.stampedOpen + before.fresh);
  });
});
