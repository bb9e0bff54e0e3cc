/**
 * Clustered mode (state.etcd): the kill switch is one etcd key shared by every replica
 * (docs/safety.md). Turned off through a follower, every replica shows it off (/status and the
 * metric) and the leader holds the automatic flip when the tenant's primary dies; turned on
 * through the leader, the held flip happens.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { post, served, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';
import type { Cluster, Replica } from './helpers/cluster.js';
import { OPERATOR, VIEWER, admin } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { waitFor } from './helpers/poll.js';

async function automaticOf(cluster: Cluster, r: Replica): Promise<{ enabled: boolean; by: string; reason: string }> {
  return ((await cluster.status(r)) as { automatic: { enabled: boolean; by: string; reason: string } }).automatic;
}

async function metricOf(r: Replica): Promise<string | undefined> {
  const m = await admin(r.child.adminUrl, 'GET', '/metrics', { token: VIEWER });
  return /^drproxy_automatic_failover_enabled (\d)$/m.exec(m.text)?.[1];
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the kill switch', () => {
  const start = useTwoSiteCluster();

  it('off through a follower: every replica shows it, the leader holds the flip; on through the leader: it flips', async () => {
    const { cluster, a1, leader } = await start(2);
    const follower = cluster.replicas.find((r) => r !== leader)!;
    const off = await runCli(['automatic', 'off', '--reason', 'network maintenance CHG-7'], { DRPROXY_ADMIN: follower.child.adminUrl, DRPROXY_TOKEN: OPERATOR });
    expect(off.stderr).toBe('');
    expect(off.code).toBe(0);
    for (const r of cluster.replicas) {
      await waitFor(async () => (await automaticOf(cluster, r)).enabled === false, { what: `${r.id} shows automatic flips off` });
      expect(await automaticOf(cluster, r)).toMatchObject({ by: 'ops', reason: 'network maintenance CHG-7' });
      expect(await metricOf(r)).toBe('0');
    }
    // Audited once, by the replica that was asked.
    expect(follower.child.output()).toMatch(/"action":"automatic"/);

    await a1.kill('SIGKILL');
    await waitFor(() => /automatic flips are OFF \(kill switch, by ops: network maintenance CHG-7\): flip to b1/.test(leader.child.output()), { what: "the leader's alert that the flip is held", timeout: 15_000 });
    expect(await tenantOf(cluster, leader)).toMatchObject({ active: 'a1', epoch: 1 });

    const on = await post(leader, '/automatic', { enabled: true, reason: 'maintenance over' });
    expect(on.status).toBe(200);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'b1', { what: `${r.id} on b1`, timeout: 15_000 });
    expect(await tenantOf(cluster, follower)).toMatchObject({ active: 'b1', epoch: 2 });
    for (const r of cluster.replicas) {
      await waitFor(async () => (await automaticOf(cluster, r)).enabled, { what: `${r.id} shows automatic flips on` });
      expect(await metricOf(r)).toBe('1');
    }
  }, 90_000);
});
