import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Backend } from '../src/proxy/backend.js';
import { LeastOutstanding, RoundRobin, createBalancer, smoothWeightedOrder } from '../src/proxy/balancer.js';
import { DEFAULT_PROXY } from '../src/config/defaults.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

function backend(name: string, weight: number): Backend {
  return new Backend('t', 's', { name, url: `http://127.0.0.1:1/${name}`, origin: 'http://127.0.0.1:1', weight }, DEFAULT_PROXY);
}

describe('balancers', () => {
  it('smooth weighted round robin interleaves by weight', () => {
    const [a, b, c] = [backend('a', 5), backend('b', 1), backend('c', 1)];
    expect(smoothWeightedOrder([a, b, c]).map((x) => x.name).join('')).toBe('aabacaa');
  });

  it('round robin honours weights over a full cycle, and avoids a given backend when it can', () => {
    const [a, b] = [backend('a', 3), backend('b', 1)];
    const rr = new RoundRobin([a, b]);
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) counts[rr.pick()!.name as 'a' | 'b']++;
    expect(counts).toEqual({ a: 300, b: 100 });
    for (let i = 0; i < 10; i++) expect(rr.pick(a)).toBe(b);
  });

  it('least outstanding picks the backend with the fewest requests in flight per weight', () => {
    const [a, b, c] = [backend('a', 1), backend('b', 2), backend('c', 1)];
    a.outstanding = 3;
    b.outstanding = 4; // 2 per unit of weight
    c.outstanding = 1;
    const lo = new LeastOutstanding([a, b, c]);
    expect(lo.pick()).toBe(c);
    c.outstanding = 5;
    expect(lo.pick()).toBe(b);
    expect(lo.pick(b)).toBe(a);
  });

  it('an empty site has nothing to pick; one backend is always picked', () => {
    expect(createBalancer('round_robin', []).pick()).toBeUndefined();
    const only = backend('only', 1);
    expect(createBalancer('least_outstanding', [only]).pick()).toBe(only);
  });
});

let u1: Upstream, u2: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [u1, u2] = await Promise.all([startUpstream('one'), startUpstream('two')]);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's', backends: [{ url: u1.url, weight: 3 }, { url: u2.url, weight: 1 }] }] } },
  });
  await waitFor(() => p.proxy.tenant('t')!.sites[0]!.health().up === 2, { what: 'both backends up' });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(u1, u2);
});

describe('weights through the proxy', () => {
  it('sends three requests to the weight-3 backend for each one to the weight-1 backend', async () => {
    for (let i = 0; i < 40; i++) {
      const r = await request(`${p.url}/w`, { headers: { host: 't.example.com' } });
      await r.body.dump();
    }
    expect([(await u1.stats()).byPath['/w'], (await u2.stats()).byPath['/w']]).toEqual([30, 10]);
  });
});
