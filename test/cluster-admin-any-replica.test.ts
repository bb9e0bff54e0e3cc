/**
 * Issue 18, "Admin API on any replica": a forced failover, a fence and an unfence sent to a
 * follower are carried out by the leader (through etcd, cluster/proposals.ts) and answered once
 * committed, with the new epoch; every replica then routes or fences accordingly; the
 * follower's audit says it forwarded the action to the leader, the leader's that it carried it
 * out for that follower.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import type { Replica } from './helpers/cluster.js';
import { waitFor } from './helpers/poll.js';
import { auditOf, post, served, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: the admin API on a follower', () => {
  const start = useTwoSiteCluster();

  it('failover, fence and unfence sent to a follower are carried out by the leader, answered once committed', async () => {
    const { cluster, leader } = await start(3);
    const follower = cluster.replicas.find((r) => r !== leader)!;

    const fo = await post(follower, '/tenants/t/failover', { to: 'b1', reason: 'drill via a follower' });
    expect(fo.status).toBe(200);
    expect(fo.body).toMatchObject({ epoch_before: 1, epoch: 2, from: 'a1', to: 'b1', result: 'routed', forwarded_to: leader.id });
    // Answered once committed: the leader's own state is at epoch 2 when the follower answers.
    expect(await tenantOf(cluster, leader)).toMatchObject({ epoch: 2, active: 'b1', phase: 'active' });
    const everyReplica = async (check: (r: Replica) => Promise<boolean>, what: string) => {
      for (const r of cluster.replicas) await waitFor(() => check(r), { what: `${r.id}: ${what}`, timeout: 10_000 });
    };
    await everyReplica(async (r) => {
      const s = await served(r);
      return s.site === 'b1' && s.epoch === '2';
    }, 'b1 at epoch 2');

    const fence = await post(follower, '/tenants/t/sites/a1/fence', { reason: 'old primary out' });
    expect(fence.status).toBe(200);
    expect(fence.body).toMatchObject({ site: 'a1', fenced: ['a1'], epoch: 2, forwarded_to: leader.id });
    await everyReplica(async (r) => (await tenantOf(cluster, r)).fenced.includes('a1'), 'a1 fenced');

    const unfence = await post(follower, '/tenants/t/sites/a1/unfence', { reason: 'old primary repaired' });
    expect(unfence.status).toBe(200);
    expect(unfence.body).toMatchObject({ site: 'a1', fenced: [], forwarded_to: leader.id });
    await everyReplica(async (r) => (await tenantOf(cluster, r)).fenced.length === 0, 'a1 unfenced');
    for (const r of cluster.replicas) expect((await served(r)).site).toBe('b1');

    // The trails: the follower forwarded each action to the leader; the leader carried it out for the follower.
    // The outcome record is written once the answer is sent: wait for the log line.
    const outcomes = (r: Replica) => auditOf(r).filter((a) => a.event === 'admin' && a.phase === undefined && a.tenant === 't');
    await waitFor(() => outcomes(follower).length >= 3, { what: "the follower's three records" });
    const mine = outcomes(follower);
    expect(mine.map((a) => [a.action, a.result, a.forwarded_to])).toEqual([
      ['failover', 'ok', leader.id],
      ['fence', 'ok', leader.id],
      ['unfence', 'ok', leader.id],
    ]);
    expect(mine[0]).toMatchObject({ epoch_before: 1, epoch_after: 2, site: 'b1', actor: 'ops' });
    await waitFor(() => auditOf(leader).filter((a) => a.forwarded_from === follower.id && a.phase === undefined).length === 3, { what: "the leader's three records" });
    const theirs = auditOf(leader).filter((a) => a.forwarded_from === follower.id && a.phase === undefined);
    expect(theirs.map((a) => [a.action, a.result, a.actor, a.site])).toEqual([
      ['failover', 'ok', 'ops', 'b1'],
      ['fence', 'ok', 'ops', 'a1'],
      ['unfence', 'ok', 'ops', 'a1'],
    ]);
    expect(theirs[0]).toMatchObject({ epoch_after: 2, reason: 'drill via a follower' });
    expect(typeof theirs[0]!.proposal).toBe('string');
    // The other follower was not involved.
    const other = cluster.replicas.find((r) => r !== leader && r !== follower)!;
    expect(auditOf(other).filter((a) => a.action === 'failover')).toEqual([]);
  }, 60_000);
});
