/**
 * The dwell's guard reads the tenant's real traffic: when the target answers too many of its
 * requests with 5xx (over drills.guard.min_requests), the drill aborts and fails back at once,
 * although the target's health checks still pass. The same under server.workers: the traffic is
 * counted in the workers and reported to the main thread between scrapes (worker-traffic.ts);
 * no /metrics scrape is made here (before, the guard saw no request and the drill passed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { startLoad } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

describe.each([
  { workers: 0, name: 'the drill guard' },
  { workers: 1, name: 'the drill guard with a data-plane worker' },
])('$name', ({ workers }) => {
  let a1: Upstream, b1: Upstream;
  let p: TestProxy;

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      server: { workers },
      defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' }, proxy: { retry_on: [] } },
      drills: { dwell: '30s', verify: { interval: '20ms', timeout: '5s' }, guard: { max_error_rate: 0.2, min_requests: 10 } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
    });
    await sitesHealthy(p, 't');
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
  });

  it('aborts on the error rate of the tenant’s real traffic and fails back', async () => {
    expect(p.proxy.threads?.ids().length ?? 0).toBe(workers);
    const load = startLoad({ url: p.url, host: 't.example.com', rate: 100, maxMs: 20_000 });
    const started = await p.proxy.drills!.start({ tenant: 't', failback: true, reason: 'guard test', actor: 'test', trigger: 'operator' });
    await waitFor(async () => ((await p.proxy.drills!.get(started.id)) as DrillReport).steps.some((s) => s.name === 'dwell'), { what: 'the dwell' });
    const brokenAt = Date.now();
    await b1.setMode(500);
    const r = await p.proxy.drills!.done(started.id);
    await load.stop();
    await b1.setMode(0);

    expect(r.status).toBe('aborted');
    expect(r.reasons.map((x) => x.code)).toEqual(['error_rate']);
    const dwell = r.steps.find((s) => s.name === 'dwell')!;
    expect(Date.parse(dwell.ended_at!) - brokenAt).toBeLessThan(5000);
    expect((dwell.data as { errors: number }).errors).toBeGreaterThan(0);
    expect(r.steps.find((s) => s.name === 'failback')).toMatchObject({ result: 'ok' });
    expect(p.proxy.tenant('t')!.state).toMatchObject({ active: 'a1', phase: 'active', fenced: [] });
    expect(r.traffic!.errors).toBeGreaterThan(0);
    expect(r.traffic!.requests).toBeGreaterThanOrEqual(10);
    // The target stayed healthy throughout: it was the traffic that tripped the guard.
    expect(p.proxy.tenant('t')!.site('b1')!.health().available).toBe(true);
  }, 40_000);
});
