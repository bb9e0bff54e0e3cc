/**
 * Issue 19, "a drill never leaves a tenant on a site it did not start on", in clustered mode:
 * the leader running a drill is SIGKILLed during the dwell (tenant on the drill's target). The
 * replica elected next finds the drill `running` in etcd, marks it `interrupted`, and fails the
 * tenant back to its original site (drills.on_interrupt: failback), or freezes it with an alert
 * (freeze); every replica shows the same report. The same when every replica was killed: the
 * first leader after the restart recovers it.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { EtcdClient } from '../src/cluster/etcd.js';
import { adminJson, type Cluster, type Replica } from './helpers/cluster.js';
import { served, tenantOf } from './helpers/cluster-admin.js';
import { drillInDwell, finalReport, useDrillCluster } from './helpers/cluster-drill.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: the leader killed during a drill', () => {
  const start = useDrillCluster();

  async function killAndRecover(cluster: Cluster, leader: Replica, id: string): Promise<{ next: Replica; report: DrillReport; live: Replica[] }> {
    await leader.child.kill('SIGKILL');
    const live = cluster.replicas.filter((r) => r !== leader);
    const next = await cluster.leader();
    expect(live).toContain(next);
    const report = await finalReport(next, id);
    // Every live replica shows the same report.
    for (const r of live) expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(report);
    return { next, report, live };
  }

  it('the new leader marks the drill interrupted and fails the tenant back to its original site', async () => {
    const c = await start({ on_interrupt: 'failback' });
    const { cluster, leader } = c;
    const id = await drillInDwell(c);
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
    const c = await start({ on_interrupt: 'freeze' });
    const { cluster, leader } = c;
    const id = await drillInDwell(c);
    const { next, report, live } = await killAndRecover(cluster, leader, id);
    expect(report.status).toBe('interrupted');
    expect(report.steps.find((s) => s.name === 'recovery')).toMatchObject({ result: 'ok', detail: 'froze the tenant on b1' });
    for (const r of live) await waitFor(async () => (await tenantOf(cluster, r)).frozen_cause === 'drill_interrupted', { what: `${r.id} sees t frozen` });
    expect(await tenantOf(cluster, next)).toMatchObject({ active: 'b1', frozen_cause: 'drill_interrupted' });
    const alert = next.child.output().split('\n').find((l) => l.includes('"alert":true') && l.includes('drill_interrupted'));
    expect(alert, 'an alert line on the new leader').toBeDefined();
  }, 90_000);

  it('every replica SIGKILLed during the dwell: the first leader after the restart recovers the drill', async () => {
    const c = await start({ on_interrupt: 'failback' });
    const { cluster, leader } = c;
    const id = await drillInDwell(c);
    await Promise.all(cluster.replicas.map((r) => r.child.kill('SIGKILL')));
    // Restarted once the old leader's key is gone: the first replica leads before its drill service exists.
    const etcd = new EtcdClient({ endpoints: cluster.etcd.endpoints, requestTimeout: 1000, dialTimeout: 2000 });
    try {
      await waitFor(async () => (await etcd.get(`${cluster.prefix}/leader`)).kv === undefined, { what: "the old leader's key to expire", timeout: 10_000, interval: 100 });
    } finally {
      etcd.close();
    }
    for (let i = 0; i < cluster.replicas.length; i++) await cluster.restart(i);
    const next = await cluster.leader();
    const report = await finalReport(next, id);
    expect(report).toMatchObject({ status: 'interrupted', runner: leader.id });
    expect(report.steps.find((s) => s.name === 'recovery')?.detail).toContain('failed back to a1');
    for (const r of cluster.replicas) {
      await waitFor(async () => (await served(r)).epoch === String(report.epochs.after), { what: `${r.id} at epoch ${report.epochs.after}` });
      expect((await served(r)).site, r.id).toBe('a1');
      expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(report);
    }
  }, 90_000);
});
