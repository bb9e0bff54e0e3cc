/**
 * Issue 19, "a drill never leaves a tenant on a site it did not start on", in clustered mode:
 * the leader running a drill is SIGKILLed during the dwell (tenant on the drill's target). The
 * replica elected next finds the drill `running` in etcd, marks it `interrupted`, and fails the
 * tenant back to its original site (drills.on_interrupt: failback), or freezes it with an alert
 * (freeze); every replica shows the same report.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { adminJson, useClusterTest, type Cluster, type Replica } from './helpers/cluster.js';
import { post, served, sitesUp, tenantOf } from './helpers/cluster-admin.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: the leader killed during a drill', () => {
  const test = useClusterTest();

  /** Three replicas; a drill of t (a1 → b1, a long dwell) asked of a follower, in its dwell when this resolves. */
  async function drillInDwell(onInterrupt: 'failback' | 'freeze'): Promise<{ cluster: Cluster; leader: Replica; id: string }> {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s', min_interval: '0s' } },
      config: { drills: { dwell: '1s', on_interrupt: onInterrupt, verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
    });
    const leader = await cluster.leader();
    await sitesUp(cluster, leader);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });
    const follower = cluster.replicas.find((r) => r !== leader)!;
    const asked = await post(follower, '/tenants/t/drills', { reason: 'drill cut short', dwell: '60s' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const id = asked.body.id as string;
    // In the dwell: the report in etcd (read through a follower) says so, and traffic is on b1.
    await waitFor(async () => ((await adminJson(follower, `/drills/${id}`)) as DrillReport).steps?.some((s) => s.name === 'dwell' && s.result === 'running'), { what: 'the drill in its dwell', timeout: 20_000, interval: 100 });
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'b1', { what: `${r.id} on b1` });
    return { cluster, leader, id };
  }

  async function killAndRecover(cluster: Cluster, leader: Replica, id: string): Promise<{ next: Replica; report: DrillReport; live: Replica[] }> {
    await leader.child.kill('SIGKILL');
    const live = cluster.replicas.filter((r) => r !== leader);
    const next = await cluster.leader();
    expect(live).toContain(next);
    const report = await waitFor(async () => {
      const r = (await adminJson(next, `/drills/${id}`)) as DrillReport;
      return r.kind === 'drproxy.drill' && r.status !== 'running' ? r : undefined;
    }, { what: 'the new leader to recover the drill', timeout: 20_000, interval: 200 });
    // Every live replica shows the same report.
    for (const r of live) expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(report);
    return { next, report, live };
  }

  it('the new leader marks the drill interrupted and fails the tenant back to its original site', async () => {
    const { cluster, leader, id } = await drillInDwell('failback');
    const { next, report, live } = await killAndRecover(cluster, leader, id);
    expect(report.status).toBe('interrupted');
    expect(report.runner).toBe(leader.id);
    expect(report.reasons.map((r) => r.code)).toContain('interrupted');
    const recovery = report.steps.find((s) => s.name === 'recovery');
    expect(recovery, JSON.stringify(report.steps)).toMatchObject({ result: 'ok', data: { on_interrupt: 'failback' } });
    expect(recovery!.detail).toContain('failed back to a1');
    expect(report.reasons.find((r) => r.code === 'interrupted')?.message).toContain(`recovered by ${next.id}`);
    expect(report.steps.find((s) => s.name === 'dwell')?.result).toBe('aborted');

    // The tenant ends on its original site, on every live replica, at the recovery's epoch.
    for (const r of live) await waitFor(async () => (await served(r)).epoch === String(report.epochs.after), { what: `${r.id} at epoch ${report.epochs.after}` });
    for (const r of live) {
      expect((await served(r)).site, r.id).toBe('a1');
      expect(await tenantOf(cluster, r), r.id).toMatchObject({ active: 'a1', phase: 'active' });
    }
    expect(((await adminJson(next, '/drills?tenant=t')).drills as Array<{ id: string; status: string }>).find((d) => d.id === id)?.status).toBe('interrupted');
  }, 90_000);

  it('drills.on_interrupt: freeze leaves the tenant frozen on the target with an alert', async () => {
    const { cluster, leader, id } = await drillInDwell('freeze');
    const { next, report, live } = await killAndRecover(cluster, leader, id);
    expect(report.status).toBe('interrupted');
    expect(report.steps.find((s) => s.name === 'recovery')).toMatchObject({ result: 'ok', detail: 'froze the tenant on b1' });
    for (const r of live) await waitFor(async () => (await tenantOf(cluster, r)).frozen_cause === 'drill_interrupted', { what: `${r.id} sees t frozen` });
    expect(await tenantOf(cluster, next)).toMatchObject({ active: 'b1', frozen_cause: 'drill_interrupted' });
    const alert = next.child.output().split('\n').find((l) => l.includes('"alert":true') && l.includes('drill_interrupted'));
    expect(alert, 'an alert line on the new leader').toBeDefined();
  }, 90_000);
});
