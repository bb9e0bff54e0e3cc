/**
 * Clustered mode: the kill switch (the etcd key P/automatic) survives a restart of every
 * replica, and a new leader after the old one is killed finds it off and holds the automatic
 * flip when the primary dies.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { post, served, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';
import type { Cluster, Replica } from './helpers/cluster.js';
import { waitFor } from './helpers/poll.js';

async function enabledOf(cluster: Cluster, r: Replica): Promise<boolean | undefined> {
  const s = (await cluster.status(r).catch(() => undefined)) as { automatic?: { enabled: boolean } } | undefined;
  return s?.automatic?.enabled;
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the kill switch across restarts and a leader kill', () => {
  const start = useTwoSiteCluster();

  it('stays off after every replica restarts; the next leader holds the flip', async () => {
    const { cluster, a1 } = await start(3);
    const off = await post(cluster.replicas[2]!, '/automatic', { enabled: false, reason: 'maintenance CHG-8' });
    expect(off.status).toBe(200);

    for (const r of cluster.replicas) await r.child.kill('SIGKILL');
    for (let i = 0; i < cluster.replicas.length; i++) await cluster.restart(i);
    const leader = await cluster.leader();
    for (const r of cluster.replicas) {
      await waitFor(async () => (await enabledOf(cluster, r)) !== undefined, { what: `${r.id} answers` });
      expect(await enabledOf(cluster, r)).toBe(false);
    }
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });

    await leader.child.kill('SIGKILL');
    const next = await cluster.leader();
    expect(next).not.toBe(leader);
    await a1.kill('SIGKILL');
    await waitFor(() => /automatic flips are OFF \(kill switch, by ops: maintenance CHG-8\): flip to b1/.test(next.child.output()), { what: "the new leader's alert that the flip is held", timeout: 15_000 });
    expect(await tenantOf(cluster, next)).toMatchObject({ active: 'a1', epoch: 1 });
    expect(await enabledOf(cluster, next)).toBe(false);
  }, 120_000);
});
