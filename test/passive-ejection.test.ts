import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { newEjectable, tryEject, isEjected } from '../src/health/outlier.js';
import type { PassiveHealthConfig } from '../src/config/types.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const CFG: PassiveHealthConfig = { consecutive_failures: 3, consecutive_refused: 1, statuses: [502, 503, 504], base_ejection: 1000, max_ejection: 4000, max_ejected_percent: 50, slow_after: 0, slow_confirm: true, uneject_on_probe_success: true };

describe('ejection policy', () => {
  it('doubles the ejection time with each ejection, up to max_ejection', () => {
    const e = newEjectable();
    const peers = [e, newEjectable(), newEjectable(), newEjectable()];
    let now = 1_000_000;
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      times.push(tryEject(CFG, e, peers, now)!);
      now = e.ejectedUntil + 1;
    }
    expect(times).toEqual([1000, 2000, 4000, 4000]);
  });

  it('never ejects more than max_ejected_percent of a site, but always allows one', () => {
    const peers = [newEjectable(), newEjectable(), newEjectable(), newEjectable()];
    const now = 5_000;
    expect(tryEject(CFG, peers[0]!, peers, now)).toBe(1000);
    expect(tryEject(CFG, peers[1]!, peers, now)).toBe(1000);
    expect(tryEject(CFG, peers[2]!, peers, now)).toBeUndefined(); // 50% of 4 = 2
    const alone = newEjectable();
    expect(tryEject({ ...CFG, max_ejected_percent: 10 }, alone, [alone], now)).toBe(1000);
    expect(isEjected(alone, now + 999)).toBe(true);
    expect(isEjected(alone, now + 1000)).toBe(false);
  });

  it('lifts the cap when the whole site is failing', () => {
    const peers = [newEjectable(), newEjectable()];
    expect(tryEject(CFG, peers[0]!, peers, 0)).toBe(1000);
    expect(tryEject(CFG, peers[1]!, peers, 0)).toBeUndefined();
    expect(tryEject(CFG, peers[1]!, peers, 0, true)).toBe(1000);
  });

  it('forgets old ejections after a quiet max_ejection', () => {
    const e = newEjectable();
    tryEject(CFG, e, [e], 0);
    tryEject(CFG, e, [e], 2000);
    expect(tryEject(CFG, e, [e], 2000 + 2000 + 4001 + 1)).toBe(1000);
  });
});

let good: Upstream, bad: Upstream, other: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [good, bad, other] = await Promise.all([startUpstream('good'), startUpstream('bad'), startUpstream('b1')]);
  p = await startProxy({
    defaults: {
      // Slow active checks: the passive signal must do the work here. No scheduled probe may
      // land during the test either: one that passes ends an ejection early (uneject on probe
      // success), and the backend would take three more requests before its next ejection.
      health_check: { interval: '60s', timeout: '1s' },
      // An ejection long enough that 20 sequential requests end inside it on a loaded machine
      // (with 2 s a clean-clone run saw it expire mid-loop and the backend take 3 more).
      passive_health: { consecutive_failures: 3, base_ejection: '5s' },
      proxy: { retry_on: [503] },
    },
    tenants: {
      t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [good.url, bad.url] }, { name: 'b1', backends: [other.url] }] },
    },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(good, bad, other);
});

describe('passive ejection on real traffic', () => {
  it('ejects a backend that answers 503, retries its requests on the healthy one, and lets it back after the back-off', async () => {
    await bad.setMode(503);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await request(`${p.url}/x`, { headers: { host: 't.example.com' } });
      statuses.push(r.statusCode);
      await r.body.dump();
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const t = p.proxy.tenant('t')!;
    const badRt = t.site('a1')!.backends.find((b) => b.backend.origin === bad.url)!;
    expect(isEjected(badRt.passive, Date.now())).toBe(true);
    expect(p.logs.some((l) => l.msg === 'backend ejected (passive health)' && l.kind === 'status')).toBe(true);
    // Still on a1: one healthy backend is enough (min_healthy 1), so no flip.
    expect(t.state.active).toBe('a1');
    const stats = await bad.stats();
    const seen = stats.requests;
    // Proxied requests only: under load a first probe can time out and be sent again.
    expect(stats.byPath['/x'] ?? 0).toBeLessThanOrEqual(4);
    await bad.setMode(0);
    await waitFor(() => !isEjected(badRt.passive, Date.now()), { what: 'ejection over', timeout: 8000 });
    await waitFor(
      async () => {
        const r = await request(`${p.url}/x`, { headers: { host: 't.example.com' } });
        await r.body.dump();
        return (await bad.stats()).requests > seen;
      },
      { what: 'traffic back on the ejected backend' },
    );
  });
});
