/**
 * Issue 19 in clustered mode: the leader running a drill is lost without dying (SIGSTOP past
 * its lease) during the dwell. The next leader marks the drill `interrupted` and fails the
 * tenant back. The old leader, resumed, stops acting on its drill: it ends the dwell because it
 * no longer leads, its failback is refused (not the leader), and it does not overwrite the
 * report: every replica keeps showing the recovered report, and no epoch is added.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { adminJson, type Replica } from './helpers/cluster.js';
import { served, tenantOf } from './helpers/cluster-admin.js';
import { drillInDwell, finalReport, useDrillCluster } from './helpers/cluster-drill.js';
import { waitFor } from './helpers/poll.js';

type ClusterView = { cluster?: { leader?: string | null; leading?: boolean } };

/** The JSON log lines of replica `r` from character `from` of its output on. */
function logOf(r: Replica, from = 0): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of r.child.output().slice(from).split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the leader lost (paused) during a drill, then resumed', () => {
  const start = useDrillCluster();

  it('the new leader recovers the drill; the old one stops acting and never overwrites the report', async () => {
    const c = await start({ on_interrupt: 'failback' });
    const { cluster, leader: old } = c;
    const id = await drillInDwell(c);
    const others = cluster.replicas.filter((r) => r !== old);

    old.child.proc.kill('SIGSTOP');
    const paused = old.child.output().length;
    // Only the running replicas are asked (a stopped one would never answer).
    let next: Replica | undefined;
    await waitFor(async () => {
      for (const r of others) if (((await cluster.status(r)) as ClusterView).cluster?.leading === true) next = r;
      return next !== undefined;
    }, { what: 'another replica leads', timeout: 10_000, interval: 100 });
    const recovered = await finalReport(next!, id);
    expect(recovered.status).toBe('interrupted');
    expect(recovered.runner).toBe(old.id);
    expect(recovered.steps.find((s) => s.name === 'recovery')?.detail).toContain('failed back to a1');
    for (const r of others) await waitFor(async () => (await served(r)).epoch === String(recovered.epochs.after), { what: `${r.id} at epoch ${recovered.epochs.after}` });

    // Resumed: it steps down, ends its drill's dwell, and its failback and report writes are refused.
    old.child.proc.kill('SIGCONT');
    const ended = await waitFor(() => logOf(old, paused).find((l) => l.drill === id && typeof l.status === 'string'), { what: `${old.id} ends its own run of the drill`, timeout: 15_000 });
    const after = logOf(old, paused);
    expect(after.some((l) => l.msg === 'stepped down as leader')).toBe(true);
    expect(after.find((l) => l.drill === id && typeof l.msg === 'string' && l.msg.startsWith('drill aborted:'))?.msg).toContain('this replica stopped leading the cluster');
    expect(ended.status).not.toBe('passed');
    expect(after.some((l) => l.drill === id && l.msg === `could not save the report of drill ${id}`)).toBe(true);
    // Its failback was refused because it no longer leads: no false alarm (the new leader handled it).
    // (Unless it had already applied the new leader's state, and so found the tenant back on a1.)
    const refused = after.find((l) => l.drill === id && typeof l.msg === 'string' && l.msg.startsWith('the failback to a1 did not happen'));
    if (refused) expect(refused.msg).toContain('is not the leader');
    expect(after.filter((l) => l.alert === true && l.event === 'drill_failback_failed')).toEqual([]);

    // The report every replica shows is still the new leader's; the tenant stays on a1 at the recovery's epoch.
    await waitFor(async () => (await served(old)).epoch === String(recovered.epochs.after), { what: `${old.id} (resumed) follows` });
    for (const r of cluster.replicas) {
      expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(recovered);
      expect(await tenantOf(cluster, r), r.id).toMatchObject({ active: 'a1', epoch: recovered.epochs.after, phase: 'active' });
      expect((await served(r)).site, r.id).toBe('a1');
    }
    expect(((await cluster.status(old)) as ClusterView).cluster).toMatchObject({ leader: next!.id, leading: false });
  }, 90_000);
});
