/**
 * Health by quorum, out of schedule (issue 18): when one replica votes the primary down, the
 * others probe it at once and vote, so the quorum forms within a probe round trip, not a check
 * interval. Three drproxy processes on real etcd; only r0 checks every 100 ms, r1 and r2 every
 * 60 s (and no traffic reaches them, so no passive failure either): only the out-of-schedule
 * probe, set off by r0's down vote, can make them vote a1 down within the test's bounds.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED, ETCD_SKIP_REASON } from './helpers/etcd.js';
import { adminJson, useClusterTest } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const SLOW_CHECKS = { ...FAST_CHECKS, interval: '60s' };


describe.skipIf(!ETCD_INSTALLED)('clustered: a down vote makes the other replicas probe at once', () => {
  const test = useClusterTest();

  it('the quorum forms and the tenant flips long before the slow replicas’ next check', async () => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { failover: { drain_timeout: '2s', hold_requests: '5s' } },
      tenants: (i) => ({ t: { ...twoSiteTenant('t.example.com', a1!, b1!), health_check: i === 0 ? FAST_CHECKS : SLOW_CHECKS } }),
    });
    const leader = await cluster.leader();
    const votes = async (): Promise<Record<string, Record<string, string>>> => (await adminJson(leader, '/status')).cluster.votes.t ?? {};
    await waitFor(async () => {
      const v = await votes();
      return cluster.replicas.every((r) => v[r.id]?.a1 === 'up' && v[r.id]?.b1 === 'up');
    }, { what: 'every replica voting both sites up', timeout: 15_000 });

    const killedAt = Date.now();
    await a1!.kill('SIGKILL');
    await waitFor(async () => (await Promise.all(cluster.replicas.map((r) => adminJson(r, '/tenants/t')))).every((t) => t.epoch === 2 && t.phase === 'active' && t.active === 'b1'), {
      what: 'every replica on b1 at epoch 2',
      timeout: 10_000,
    });
    const ms = Date.now() - killedAt;
    console.log(`quorum by out-of-schedule probes: kill → every replica on b1 at epoch 2 in ${ms} ms (slow replicas check every 60 s)`);
    expect(ms).toBeLessThan(3000);
    for (const r of cluster.replicas.slice(1)) expect(r.child.output()).toContain('sees site a1 down: probing it now');
  }, 60_000);
});
