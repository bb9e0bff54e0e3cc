/**
 * `drproxy status` in clustered mode shows the cluster section of GET /status: this replica,
 * the leader, serving, lease, and each replica's acknowledged epoch and stage per tenant,
 * compact in text and whole under --json.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { waitFor } from './helpers/poll.js';
import { post, useTwoSiteCluster } from './helpers/cluster-admin.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: drproxy status', () => {
  const start = useTwoSiteCluster();

  it('shows the replica, the leader and every replica acknowledged epoch per tenant (text and --json)', async () => {
    const { cluster, leader, a1 } = await start(2);
    const follower = cluster.replicas.find((r) => r !== leader)!;
    // A flip, so that every replica (the leader too) has acknowledged an epoch.
    expect((await post(leader, '/tenants/t/failover', { to: 'b1', reason: 'drill' })).status).toBe(200);
    type Section = { replicas: Array<{ id: string; acknowledged: Record<string, { epoch: number; stage: string }> }> };
    await waitFor(async () => {
      const c = ((await cluster.status(follower)) as { cluster?: Section }).cluster;
      return c?.replicas.length === 2 && c.replicas.every((r) => r.acknowledged.t?.epoch === 2 && r.acknowledged.t.stage === 'routed');
    }, { what: 'both replicas acknowledged epoch 2 routed', timeout: 10_000 });

    const text = await runCli(['status', '--admin', follower.child.adminUrl, '--token', VIEWER]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines).toContain(`cluster: replica ${follower.id}, leader ${leader.id}, serving, lease valid`);
    const row = (id: string) => lines.find((l) => l.startsWith(`${id} `) || l.startsWith(`${id}(`))!.split(/\s{2,}/);
    expect(row(leader.id)).toEqual([leader.id, 'leader', 't:2 routed', '-']);
    expect(row(follower.id)).toEqual([`${follower.id} (this)`, 'follower', 't:2 routed', '-']);

    const onLeader = await runCli(['status', '--admin', leader.child.adminUrl, '--token', VIEWER]);
    expect(onLeader.stdout).toContain(`cluster: replica ${leader.id}, leader ${leader.id} (this replica), serving, lease valid`);

    const json = await runCli(['status', '--json', '--admin', follower.child.adminUrl, '--token', VIEWER]);
    expect(json.code).toBe(0);
    const j = JSON.parse(json.stdout) as { cluster: Record<string, unknown> & Section };
    expect(j.cluster).toMatchObject({ replica: follower.id, leader: leader.id, leading: false, serving: true, lease_valid: true });
    expect(j.cluster.replicas.map((r) => [r.id, r.acknowledged.t?.epoch, r.acknowledged.t?.stage])).toEqual(
      [leader.id, follower.id].sort().map((id) => [id, 2, 'routed']),
    );

    // a1 (no longer active) fails its checks: every replica votes it down, and status says so.
    await a1.setHealth(503);
    await waitFor(async () => {
      const out = (await runCli(['status', '--admin', follower.child.adminUrl, '--token', VIEWER])).stdout.split('\n');
      const rowOf = (id: string) => out.find((l) => l.startsWith(`${id} `) || l.startsWith(`${id}(`))?.split(/\s{2,}/);
      return rowOf(leader.id)?.[3] === 't:a1' && rowOf(follower.id)?.[3] === 't:a1';
    }, { what: 'both replicas shown voting a1 down', timeout: 10_000, interval: 300 });
  }, 60_000);
});
