/**
 * GET /events coalescing (issue 21, item 5): 1,000 tenants failing over at once (their shared
 * primary killed) reach a client as a few `tenants` events a second, each carrying many
 * tenants, never one event per change, and still every tenant's new site and epoch, and a
 * `flip` event per flip. Also: GET /fleet of 1,000 tenants gzipped when asked (and its time and size).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import { waitFor } from './helpers/poll.js';
import type { TenantsChanged } from '../src/console/contract.js';

const N = 1000;
let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const tenants: Record<string, unknown> = {};
  for (let i = 0; i < N; i++) tenants[`t${i}`] = { tier: 'BC', hosts: [`t${i}.example.com`], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] };
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '100ms' } },
    tenants,
  });
  await waitFor(() => [...p.proxy.controllers.values()].every((c) => c.state.active === 'a1' && c.sites.every((s) => s.health().available)), { timeout: 30_000, what: 'every tenant healthy on a1' });
}, 60_000);
afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('GET /events with 1,000 tenants failing over at once', () => {
  it('at most ~4 tenants events a second, carrying every tenant\'s new site and epoch', async () => {
    // GET /fleet at this size: compact JSON, gzipped for a client that takes it.
    let t0 = performance.now();
    const r = await request(`${p.adminUrl}/fleet`, { headers: { authorization: `Bearer ${VIEWER}` } });
    const text = await r.body.text();
    const plainMs = performance.now() - t0;
    expect(r.headers['content-encoding']).toBeUndefined();
    t0 = performance.now();
    const z = await request(`${p.adminUrl}/fleet`, { headers: { authorization: `Bearer ${VIEWER}`, 'accept-encoding': 'br;q=1, gzip;q=0.8' } });
    const gz = Buffer.from(await z.body.arrayBuffer());
    expect(z.headers['content-encoding']).toBe('gzip');
    expect(z.headers.vary).toBe('accept-encoding');
    expect(JSON.parse(gunzipSync(gz).toString()).counts).toEqual(JSON.parse(text).counts);
    console.log(`GET /fleet, ${N} tenants: ${plainMs.toFixed(1)} ms round trip, ${text.length} bytes; gzipped ${(performance.now() - t0).toFixed(1)} ms, ${gz.length} bytes`);

    const s = await openEvents(p.adminUrl, VIEWER);
    await s.next((e) => e.event === 'snapshot');
    const epochs = new Map([...p.proxy.controllers.values()].map((c) => [c.name, c.state.epoch]));
    await a1.kill();
    const seen = new Map<string, number>();
    await waitFor(
      () => {
        for (const e of s.events) if (e.event === 'tenants') for (const t of (e.data as TenantsChanged).tenants) if (t.active === 'b1' && t.phase === 'active') seen.set(t.name, t.epoch);
        return seen.size === N;
      },
      { timeout: 30_000, what: `all ${N} tenants on b1 in tenants events` },
    );
    for (const [name, epoch] of seen) expect(epoch, name).toBe(epochs.get(name)! + 1);
    await waitFor(() => s.events.filter((e) => e.event === 'flip').length >= N, { timeout: 10_000, what: `${N} flip events` });

    const tenantsEvents = s.events.filter((e) => e.event === 'tenants');
    const span = (tenantsEvents.at(-1)!.at - tenantsEvents[0]!.at) / 1000;
    console.log(`${N} failovers: ${tenantsEvents.length} tenants events over ${span.toFixed(2)} s, ${s.events.filter((e) => e.event === 'flip').length} flip events`);
    expect(tenantsEvents.length).toBeLessThanOrEqual(Math.ceil(4 * span) + 2);
    // And per second of the stream: no window of one second holds more than a few.
    for (const e of tenantsEvents) expect(tenantsEvents.filter((x) => x.at >= e.at && x.at < e.at + 1000).length).toBeLessThanOrEqual(6);
    s.close();
  }, 60_000);
});
