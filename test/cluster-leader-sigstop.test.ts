/**
 * Split-brain scenario 4: the leader (a drproxy process) is paused with SIGSTOP past its lease
 * TTL while a flip is needed (the primary is killed after the pause). Another replica leads
 * within TTL + 1 s and flips at epoch 2. The old leader, resumed with SIGCONT, commits nothing:
 * the epoch stays 2 everywhere (its own /status too), the leader's history holds one flip, and
 * the old leader follows (routes b1 at epoch 2). Its own monotonic lease deadline passed while
 * it was stopped, so it no longer counts itself leader on resuming: the test asserts that its
 * log shows no commit or flip attempt of its own after the pause (and no refused one either).
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import type { Replica } from './helpers/cluster.js';
import { OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { served, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';

type ClusterView = { cluster?: { leader?: string | null; replica?: string; leading?: boolean; replicas?: Array<{ id: string; acknowledged: Record<string, { epoch: number; stage: string }> }> } };

describe.skipIf(!ETCD_INSTALLED)('clustered: the leader paused past its lease, then resumed', () => {
  const start = useTwoSiteCluster();

  it('another replica leads within TTL + 1 s and flips at epoch 2; the resumed one commits nothing and follows', async () => {
    const { cluster, leader: old, a1, b1 } = await start(3);
    const others = cluster.replicas.filter((r) => r !== old);

    // Pause the leader, then take its primary away: a flip is needed, and it cannot run it.
    old.child.proc.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const pausedLog = old.child.output().length;
    await a1.kill('SIGKILL');

    // Only the running replicas are asked (a stopped one would never answer).
    let next: Replica | undefined;
    await waitFor(async () => {
      for (const r of others) {
        const c = ((await cluster.status(r)) as ClusterView).cluster;
        if (c?.leading === true) next = r;
      }
      return next !== undefined;
    }, { what: 'another replica leads', timeout: 10_000, interval: 50 });
    // Lease TTL (2 s) + 1 s after the pause, at the latest (and not before the TTL: the lease was valid).
    expect(Date.now() - stoppedAt).toBeLessThan(3_000 + 300);
    for (const r of others) await waitFor(async () => {
      const s = await served(r);
      return s.site === 'b1' && s.epoch === '2';
    }, { what: `${r.id} on b1 at epoch 2`, timeout: 10_000 });

    // Resume the old leader: it follows the committed state and commits nothing.
    old.child.proc.kill('SIGCONT');
    await waitFor(async () => {
      const s = await served(old);
      return s.site === 'b1' && s.epoch === '2';
    }, { what: `${old.id} (resumed) on b1 at epoch 2`, timeout: 10_000 });
    // It re-registered under a new lease and acknowledged epoch 2 where the new leader sees it.
    await waitFor(async () => {
      const c = ((await cluster.status(next!)) as ClusterView).cluster;
      return c?.replicas?.find((x) => x.id === old.id)?.acknowledged.t?.epoch === 2;
    }, { what: `${next!.id} sees ${old.id} back, at epoch 2`, timeout: 10_000 });
    const own = ((await cluster.status(old)) as ClusterView).cluster;
    expect(own).toMatchObject({ leader: next!.id, leading: false });
    for (const r of cluster.replicas) expect(await tenantOf(cluster, r), r.id).toMatchObject({ epoch: 2, active: 'b1', phase: 'active' });
    const res = await request(`${next!.child.adminUrl}/tenants/t`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    const t = (await res.body.json()) as { flips: Array<{ epoch: number }> };
    expect(t.flips.map((f) => f.epoch)).toEqual([2]);
    expect((await b1.stats()).epochs).toEqual(['2']);

    // What the resumed replica did: its first word is stepping down on its own deadline (no
    // keepalive succeeded within TTL − margin, on the monotonic clock); no flip, no commit of
    // its own, not even a refused one.
    // (Audit records of /status calls made just before the pause may arrive late: not its acts.)
    const after = old.child.output().slice(pausedLog).split('\n').filter((l) => l.startsWith('{') && !l.includes('"action":"status"'));
    expect(JSON.parse(after[0]!)).toMatchObject({ msg: 'stepped down as leader', reason: expect.stringContaining('no keepalive succeeded within') });
    expect(after.join('\n')).not.toMatch(/"event":"failover"|took over as leader|DRP_NOT_LEADER|DRP_STATE_CONFLICT|guard/);
  }, 90_000);
});
