/**
 * A flip closes the old site's idle connections a moment after the route switch
 * (RETIRED_POOL_GRACE_MS), not in the same turn as the new site's first requests; and a flip
 * back within that moment keeps its fresh pool. The same under server.workers: the worker
 * closes them a moment after it applies the new route, not while it drains (worker-drain.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { RETIRED_POOL_GRACE_MS } from '../src/failover/drain.js';

describe.each([
  { workers: 0, name: 'the old site after a flip' },
  { workers: 1, name: 'the old site after a flip, in a worker' },
])('$name', ({ workers }) => {
  let a1: Upstream, b1: Upstream;
  let p: TestProxy;

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      server: { workers },
      // Slow probes: no probe connection changes what the test counts (stampedOpen counts
      // proxied requests' connections only, but a flip must come from the test alone).
      defaults: { health_check: { interval: '30s', timeout: '1s' }, failover: { min_interval: '0s' } },
      tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
    });
    await sitesHealthy(p, 't');
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
  });

  async function get(): Promise<string> {
    const r = await request(`${p.url}/x`, { headers: { host: 't.example.com' } });
    await r.body.dump();
    expect(r.statusCode).toBe(200);
    return String(r.headers['x-site']);
  }

  it('keeps its idle connections through the switch and closes them a moment later', async () => {
    expect(p.proxy.threads?.ids().length ?? 0).toBe(workers);
    for (let i = 0; i < 4; i++) expect(await get()).toBe('a1');
    expect((await a1.stats()).stampedOpen).toBeGreaterThan(0);
    const record = await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'planned move', actor: 'test' });
    // From the route switch (the grace starts after it; the flip's last commit comes later and
    // may take long on a stalled disk; a worker applies it a message later). Date.now()
    // milliseconds, as the flip record's.
    const routedAt = record.timings.routedAt;
    const right = (await a1.stats()).stampedOpen;
    // Judged only if the check came well inside the grace (a stalled machine can take longer).
    if (Date.now() - routedAt < RETIRED_POOL_GRACE_MS / 2) expect(right).toBeGreaterThan(0);
    expect(await get()).toBe('b1');
    await waitFor(async () => (await a1.stats()).stampedOpen === 0, { what: 'a1 connections closed', timeout: 5000 });
    expect(Date.now() - routedAt).toBeGreaterThanOrEqual(RETIRED_POOL_GRACE_MS - 1);
  });

  it('a flip back within the grace keeps serving on fresh connections after the old ones close', async () => {
    const t = p.proxy.tenant('t')!;
    expect(t.state.active).toBe('b1');
    for (let i = 0; i < 3; i++) expect(await get()).toBe('b1');
    await t.operatorFailover({ to: 'a1', reason: 'move back', actor: 'test', force: true });
    await t.operatorFailover({ to: 'b1', reason: 'and again', actor: 'test', force: true });
    const back = performance.now();
    // b1 was retired and reopened inside the grace: its new pool must outlive the old one's timer.
    while (performance.now() - back < RETIRED_POOL_GRACE_MS * 2) expect(await get()).toBe('b1');
    expect(p.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});
