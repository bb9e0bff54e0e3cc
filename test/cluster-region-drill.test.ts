/**
 * Region drills in clustered mode: one asked of a follower (POST /drills) is carried out by the
 * leader (a `region_drill` proposal through etcd, as single-tenant drills are), answered 202 with
 * `forwarded_to`, and its summary in etcd is the same on every replica. The leader SIGKILLed
 * during the region drill: the replica elected next marks the summary `interrupted` (and the
 * tenant's drill, failing the tenant back).
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { adminJson, useClusterTest, type Replica } from './helpers/cluster.js';
import { auditOf, post, served, sitesUp } from './helpers/cluster-admin.js';
import { FAST_CHECKS } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import type { RegionDrillReport } from '../src/drill/types.js';

const POLL = 150;

function finalSummary(r: Replica, id: string, timeout = 30_000): Promise<RegionDrillReport> {
  return waitFor(async () => {
    const rep = (await adminJson(r, `/drills/${id}`)) as RegionDrillReport;
    return rep.kind === 'drproxy.region_drill' && rep.status !== 'running' ? rep : undefined;
  }, { what: `region drill ${id} to end (seen from ${r.id})`, timeout, interval: POLL });
}

describe.skipIf(!ETCD_INSTALLED)('clustered: region drills run by the leader', () => {
  const test = useClusterTest();

  async function start() {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s', min_interval: '0s' } },
      config: { drills: { dwell: '1s', on_interrupt: 'failback', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', region: 'A', backends: [a1!.url] }, { name: 'b1', region: 'B', backends: [b1!.url] }] } },
    });
    const leader = await cluster.leader();
    await sitesUp(cluster, leader);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });
    return { cluster, leader, follower: cluster.replicas.find((r) => r !== leader)! };
  }

  it('a region drill asked of a follower runs on the leader and passes; every replica shows its summary', async () => {
    const { cluster, leader, follower } = await start();
    const asked = await post(follower, '/drills', { region: 'A', reason: 'annual region test via a follower', dwell: '1s' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    expect(asked.body).toMatchObject({ status: 'running', region: 'A', forwarded_to: leader.id });
    const id = asked.body.id as string;
    const final = await finalSummary(follower, id);
    expect(final.status, JSON.stringify(final.tenants)).toBe('passed');
    expect(final.runner).toBe(leader.id);
    expect(final.actor).toBe('ops');
    expect(final.tenants.map((e) => [e.tenant, e.status])).toEqual([['t', 'passed']]);
    for (const r of cluster.replicas) expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(final);
    // The follower's record says where it went; the leader's that it ran it for the follower.
    await waitFor(() => auditOf(follower).some((a) => a.action === 'region_drill' && a.phase === undefined), { what: "the follower's record" });
    expect(auditOf(follower).find((a) => a.action === 'region_drill' && a.phase === undefined)).toMatchObject({ result: 'ok', status: 202, forwarded_to: leader.id });
    expect(auditOf(leader).find((a) => a.action === 'region_drill' && a.forwarded_from === follower.id && a.phase === undefined)).toMatchObject({ result: 'ok', reason: 'annual region test via a follower' });
  }, 90_000);

  it('the leader killed during a region drill: the new leader marks its summary interrupted', async () => {
    const { cluster, leader, follower } = await start();
    const asked = await post(follower, '/drills', { region: 'A', reason: 'cut short', dwell: '60s' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const id = asked.body.id as string;
    // In the tenant's dwell: every replica serves b1.
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'b1', { what: `${r.id} on b1`, timeout: 20_000 });
    await leader.child.kill('SIGKILL');
    const next = await cluster.leader();
    expect(next).not.toBe(leader);
    const final = await finalSummary(next, id);
    expect(final.status).toBe('interrupted');
    expect(final.runner).toBe(leader.id);
    expect(final.tenants.map((e) => [e.tenant, e.status])).toEqual([['t', 'interrupted']]);
    const live = cluster.replicas.filter((r) => r !== leader);
    for (const r of live) expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(final);
    // The tenant's own drill was recovered too: back on a1.
    for (const r of live) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} back on a1`, timeout: 20_000 });
  }, 90_000);
});
