/**
 * Drills on a cluster of test/helpers/cluster.ts: three replicas in front of upstreams a1 and
 * b1 (tenant t), a drill asked of a follower and followed through the shared report in etcd.
 */
import { expect } from 'vitest';
import { adminJson, useClusterTest, type Cluster, type Replica } from './cluster.js';
import { post, served, sitesUp } from './cluster-admin.js';
import { FAST_CHECKS, twoSiteTenant } from './proxy.js';
import { waitFor } from './poll.js';
import type { DrillReport } from '../../src/drill/types.js';

export interface DrillCluster {
  cluster: Cluster;
  leader: Replica;
  follower: Replica;
}

/** The admin API's rate limit is per principal: the tests poll it every 100-200 ms. */
const POLL = 150;

/** For a describe block: `start()` resolves once one replica leads, it sees both sites up and every replica serves a1. */
export function useDrillCluster(): (drills?: Record<string, unknown>) => Promise<DrillCluster> {
  const test = useClusterTest();
  return async (drills = {}) => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s', min_interval: '0s' } },
      config: { drills: { dwell: '1s', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' }, ...drills } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
    });
    const leader = await cluster.leader();
    await sitesUp(cluster, leader);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });
    return { cluster, leader, follower: cluster.replicas.find((r) => r !== leader)! };
  };
}

/** Ask `r` for a drill of t with a long dwell; resolves with its id once it is in its dwell and every replica serves b1. */
export async function drillInDwell(c: DrillCluster, r: Replica = c.follower): Promise<string> {
  const asked = await post(r, '/tenants/t/drills', { reason: 'drill cut short', dwell: '60s' });
  expect(asked.status, JSON.stringify(asked.body)).toBe(202);
  const id = asked.body.id as string;
  await waitFor(async () => ((await adminJson(r, `/drills/${id}`)) as DrillReport).steps?.some((s) => s.name === 'dwell' && s.result === 'running'), { what: 'the drill in its dwell', timeout: 20_000, interval: POLL });
  for (const x of c.cluster.replicas) await waitFor(async () => (await served(x)).site === 'b1', { what: `${x.id} on b1` });
  return id;
}

/** The report of drill `id` as replica `r` shows it, once it is no longer `running`. */
export function finalReport(r: Replica, id: string, timeout = 20_000): Promise<DrillReport> {
  return waitFor(async () => {
    const rep = (await adminJson(r, `/drills/${id}`)) as DrillReport;
    return rep.kind === 'drproxy.drill' && rep.status !== 'running' ? rep : undefined;
  }, { what: `drill ${id} to end (seen from ${r.id})`, timeout, interval: POLL });
}
