/**
 * Under server.workers, as inline (test drain-retire): a flip closes the old site's idle
 * connections in the worker a moment after the route switch (RETIRED_POOL_GRACE_MS), not while
 * the worker drains, before the new site's first requests; and a flip back within that moment
 * keeps its fresh pool (worker-drain.ts runs the drain's deferred work once the worker applies
 * the new route).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { RETIRED_POOL_GRACE_MS } from '../src/failover/drain.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { workers: 1 },
    // Slow probes: no probe connection changes what the test counts, and the flips are the test's.
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

describe('the old site after a flip, in a worker', () => {
  it('keeps its idle connections through the switch and closes them a moment later', async () => {
    expect(p.proxy.threads?.ids()).toHaveLength(1);
    for (let i = 0; i < 4; i++) expect(await get()).toBe('a1');
    expect((await a1.stats()).stampedOpen).toBeGreaterThan(0);
    const record = await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'planned move', actor: 'test' });
    // From the route switch on the main thread: the worker applies it a message later.
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
