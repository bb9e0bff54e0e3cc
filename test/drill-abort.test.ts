/**
 * A drill whose target fails during the dwell: the guard aborts it and fails back at once, and
 * the tenant's idempotent requests, sent all along under a bounded load, never fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { startLoad } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { drain_timeout: '1s' } },
    drills: { dwell: '30s', verify: { interval: '20ms', timeout: '5s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a drill whose target fails during the dwell', () => {
  it('aborts, fails back at once, and no idempotent request fails', async () => {
    const t = p.proxy.tenant('t')!;
    const load = startLoad({ url: p.url, host: 't.example.com', rate: 100, maxMs: 20_000 });
    const started = await p.proxy.drills!.start({ tenant: 't', failback: true, reason: 'abort test', actor: 'test', trigger: 'operator' });
    await waitFor(async () => ((await p.proxy.drills!.get(started.id)) as DrillReport).steps.some((s) => s.name === 'dwell'), { what: 'the dwell' });
    expect(t.state.active).toBe('b1');
    await waitFor(() => load.samples.filter((s) => s.site === 'b1').length >= 30, { what: 'traffic on b1' });
    const killedAt = Date.now();
    await b1.kill('SIGKILL');
    const r = await p.proxy.drills!.done(started.id);
    const seen = load.samples.length;
    await waitFor(() => load.samples.length >= seen + 30, { what: 'traffic after the failback' });
    const samples = await load.stop();

    expect(r.status).toBe('aborted');
    expect(r.reasons.map((x) => x.code)).toContain('target_unavailable');
    const dwell = r.steps.find((s) => s.name === 'dwell')!;
    expect(dwell.result).toBe('aborted');
    // At once: far sooner than the 30 s dwell.
    expect(Date.parse(dwell.ended_at!) - killedAt).toBeLessThan(5000);
    // The guard's failback, or a health failover to a1 just before it (a1 is not fenced by a drill).
    expect(['ok', 'skipped']).toContain(r.steps.find((s) => s.name === 'failback')!.result);
    expect(t.state).toMatchObject({ active: 'a1', phase: 'active' });
    expect(r.epochs.before).toBeLessThan(r.epochs.drill!);
    expect(r.epochs.drill!).toBeLessThan(r.epochs.after!);

    expect(samples.length).toBeGreaterThan(50);
    const failed = samples.filter((s) => s.status !== 200);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    // The load ran on b1 during the dwell and ended on a1.
    expect(samples.some((s) => s.site === 'b1')).toBe(true);
    expect(samples.at(-1)!.site).toBe('a1');
    expect(r.traffic!.requests).toBeGreaterThan(0);
  }, 40_000);
});
