/**
 * Split-brain scenario 10: a replica's wall clock jumps forward and back by minutes. Lease and
 * election deadlines run on the monotonic clock (performance.now), so nothing expires or flips
 * early: no lease lost, no step-down, no leader change, no flip, no change in serving, traffic
 * through every replica stays on a1 at epoch 1. Two replicas in-process against a real etcd:
 * first each one's injected control-plane clock (DrProxyOptions.now) is jumped ±10 min, then
 * the process's own wall clock (Date and Date.now, faked) for both at once.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED, startEtcd, type EtcdCluster } from './helpers/etcd.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { FAST_CHECKS, startProxy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const TTL_MS = 2_000;
const MINUTES_10 = 10 * 60_000;

type Status = {
  cluster: { replica: string; leader: string | null; leading: boolean; serving: boolean; lease_valid: boolean };
  tenants: Array<{ epoch: number; active: string; phase: string }>;
};

/** What must stay true while the clocks jump; a description of what broke, or undefined. */
async function broken(ps: TestProxy[]): Promise<string | undefined> {
  for (const [i, p] of ps.entries()) {
    const s = p.proxy.status() as Status;
    const c = s.cluster;
    if (c.leader !== 'r0' || c.leading !== (i === 0) || !c.serving || !c.lease_valid) return `r${i} cluster: ${JSON.stringify(c)}`;
    const t = s.tenants[0]!;
    if (t.epoch !== 1 || t.active !== 'a1' || t.phase !== 'active') return `r${i} tenant: ${JSON.stringify(t)}`;
    const res = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
    const body = await res.body.text();
    if (res.statusCode !== 200 || !body.includes('"site":"a1"') || !body.includes('"x-dr-epoch":"1"')) return `r${i} served ${res.statusCode} ${body.slice(0, 200)}`;
  }
  return undefined;
}

/** Checks the invariants every 100 ms for `ms` of monotonic time (the wall clock is the thing that jumps). */
async function holdsFor(ps: TestProxy[], ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  let checks = 0;
  while (performance.now() < end) {
    const b = await broken(ps);
    expect(b, `${what}, after ${checks} checks`).toBeUndefined();
    checks++;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(checks).toBeGreaterThan(5);
}

describe.skipIf(!ETCD_INSTALLED)('clustered: a replica clock jumped by minutes', () => {
  let etcd: EtcdCluster | undefined;
  let ups: Upstream[] = [];
  let ps: TestProxy[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(ps.map((p) => p.stop()));
    await stopAll(...ups);
    await etcd?.stop();
    ps = [];
    etcd = undefined;
  });

  it('no lease lost, no step-down, no flip, no serving change while the wall clock jumps ±10 min', async () => {
    etcd = await startEtcd(1);
    const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')]));
    const prefix = `/drproxy-test-${randomBytes(4).toString('hex')}`;
    const offsets = [0, 0];
    const doc = (i: number) => ({
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s' } },
      state: { etcd: { endpoints: etcd!.endpoints, prefix, lease_ttl: `${TTL_MS}ms`, replica_id: `r${i}` } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
    });
    // r0 first: it leads.
    for (const i of [0, 1]) ps.push(await startProxy(doc(i), { now: () => Date.now() + offsets[i]! }));
    await waitFor(async () => (await broken(ps)) === undefined, { what: 'r0 leads, both serve a1 at epoch 1', timeout: 15_000 });
    const logsBefore = ps.map((p) => p.logs.length);

    // The injected control-plane clocks: r0 (the leader) forward, r1 back; then the other way.
    offsets[0] = MINUTES_10;
    offsets[1] = -MINUTES_10;
    await holdsFor(ps, 2 * TTL_MS, 'injected clocks: r0 +10 min, r1 −10 min');
    offsets[0] = -MINUTES_10;
    offsets[1] = MINUTES_10;
    await holdsFor(ps, 2 * TTL_MS, 'injected clocks: r0 −10 min, r1 +10 min');
    offsets[0] = offsets[1] = 0;

    // The process's wall clock itself (Date and Date.now; performance.now is not faked).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + MINUTES_10);
    await holdsFor(ps, 2 * TTL_MS, 'Date.now +10 min');
    vi.setSystemTime(Date.now() - 2 * MINUTES_10);
    await holdsFor(ps, 2 * TTL_MS, 'Date.now −10 min');
    vi.useRealTimers();

    // Nobody stepped down, lost its lease, saw a new leader or started a flip.
    for (const [i, p] of ps.entries()) {
      const later = p.logs.slice(logsBefore[i]).filter((l) => /stepped down|lease lost|leader_changed|took over|failover|coordinator_lost/.test(`${String(l.msg)} ${String(l.event)}`));
      expect(later, `r${i}`).toEqual([]);
    }
    expect((await b1!.stats()).requests).toBe(0);
  }, 60_000);
});
