/**
 * Split-brain scenario 7: forced failovers sent to two replicas at the same moment (the leader
 * and a follower; then two followers) make exactly one flip: the other request gets a clear 409
 * (the target is already active), and the epochs are contiguous (1 → 2 → 3, no gap), in every
 * replica's /status, in the leader's flip history and at the upstreams (x-dr-epoch seen).
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import type { Replica } from './helpers/cluster.js';
import { OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { post, served, tenantOf, useTwoSiteCluster, type Answer } from './helpers/cluster-admin.js';

/** One 200 and one 409, whichever replica won. */
function oneFlip(pair: Answer[], epoch: number, to: string): void {
  const statuses = pair.map((a) => a.status).sort();
  expect(statuses, JSON.stringify(pair)).toEqual([200, 409]);
  const won = pair.find((a) => a.status === 200)!;
  const lost = pair.find((a) => a.status === 409)!;
  expect(won.body).toMatchObject({ epoch_before: epoch - 1, epoch, to, result: 'routed' });
  expect(lost.body).toMatchObject({ error: 'conflict' });
  expect(String(lost.body.detail)).toContain(`${to} is already active`);
}

describe.skipIf(!ETCD_INSTALLED)('clustered: forced failovers sent to two replicas at once', () => {
  const start = useTwoSiteCluster();

  it('exactly one flip per pair, contiguous epochs everywhere', async () => {
    const { cluster, leader, a1, b1 } = await start(3);
    const [f1, f2] = cluster.replicas.filter((r) => r !== leader) as [Replica, Replica];
    const everyReplicaOn = async (site: string, epoch: number) => {
      for (const r of cluster.replicas) {
        await waitFor(async () => {
          const s = await served(r);
          return s.site === site && s.epoch === String(epoch);
        }, { what: `${r.id} on ${site} at epoch ${epoch}`, timeout: 10_000 });
        expect(await tenantOf(cluster, r)).toMatchObject({ epoch, active: site, phase: 'active' });
      }
    };
    await everyReplicaOn('a1', 1);

    // The leader and a follower at the same moment.
    const why = { to: 'b1', reason: 'concurrent drill 1' };
    oneFlip(await Promise.all([post(leader, '/tenants/t/failover', why), post(f1, '/tenants/t/failover', why)]), 2, 'b1');
    await everyReplicaOn('b1', 2);

    // Two followers at the same moment.
    const back = { reason: 'concurrent drill 2' };
    oneFlip(await Promise.all([post(f1, '/tenants/t/failback', back), post(f2, '/tenants/t/failback', back)]), 3, 'a1');
    await everyReplicaOn('a1', 3);

    // The leader's history: two flips, epochs 2 and 3.
    const res = await request(`${leader.child.adminUrl}/tenants/t`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    const t = (await res.body.json()) as { flips: Array<{ epoch: number; to: string }> };
    expect(t.flips.map((f) => [f.epoch, f.to])).toEqual([[2, 'b1'], [3, 'a1']]);
    // At the upstreams: a1 saw epoch 1 then 3, b1 only 2.
    expect((await a1.stats()).epochs).toEqual(['1', '3']);
    expect((await b1.stats()).epochs).toEqual(['2']);
  }, 90_000);
});
