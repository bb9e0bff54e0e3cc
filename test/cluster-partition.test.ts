/**
 * Split-brain scenario 1: a replica partitioned from etcd stops serving its tenants within its
 * lease TTL (503 DRP_COORDINATOR_LOST, /readyz red) and commits nothing; the other replica
 * takes the lead and keeps serving; when the link heals the replica serves again.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED, startEtcd, type EtcdCluster } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { PATIENT_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';


async function get(r: Replica): Promise<{ status: number; body: string; error: string | undefined }> {
  const res = await request(`${r.child.url}/`, { headers: { host: 't.example.com' } });
  const body = await res.body.text();
  const e = res.headers['x-drproxy-error'];
  return { status: res.statusCode, body, error: typeof e === 'string' ? e : undefined };
}

async function readyz(r: Replica): Promise<number> {
  const res = await request(`${r.child.adminUrl}/readyz`);
  await res.body.dump();
  return res.statusCode;
}

describe.skipIf(!ETCD_INSTALLED)('clustered: a replica partitioned from etcd', () => {
  let etcd: EtcdCluster;
  let a1: Upstream;
  let b1: Upstream;
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    etcd = await startEtcd(1);
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  }, 30_000);
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });
  afterAll(async () => {
    await stopAll(a1, b1);
    await etcd?.stop();
  });

  it('stops serving within its lease TTL, commits nothing, and serves again once the link heals', async () => {
    cluster = await startCluster({ replicas: 2, members: etcd, defaults: { health_check: PATIENT_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
    const leader = await cluster.leader();
    const other = cluster.replicas.find((r) => r !== leader)!;
    for (const r of cluster.replicas) await waitFor(async () => (await get(r)).body.includes('a1'), { what: `${r.id} serves a1` });
    const epochBefore = ((await cluster.status(other)) as { tenants: Array<{ epoch: number }> }).tenants[0]!.epoch;

    // Cut the leader off: it must stop serving by its own deadline, and the other takes the lead.
    const cutAt = Date.now();
    leader.link.blackhole();
    await waitFor(async () => (await get(leader)).status === 503, { what: 'the partitioned replica answers 503', timeout: 5_000 });
    // Lease TTL 2s: within it (plus the poll's own step), never later.
    expect(Date.now() - cutAt).toBeLessThan(2_000 + 500);
    const answer = await get(leader);
    expect(answer.error).toBe('DRP_COORDINATOR_LOST');
    expect(await readyz(leader)).toBe(503);
    await waitFor(async () => (await cluster!.leader()) === other, { what: 'the other replica leads', timeout: 10_000 });
    expect((await get(other)).body).toContain('a1');
    expect(await readyz(other)).toBe(200);

    // Nothing was committed: the epoch is where it was, on every replica that can say.
    const after = (await cluster.status(other)) as { tenants: Array<{ epoch: number }> };
    expect(after.tenants[0]!.epoch).toBe(epochBefore);

    leader.link.restore();
    await waitFor(async () => (await get(leader)).status === 200, { what: 'the healed replica serves again', timeout: 15_000 });
    expect(await readyz(leader)).toBe(200);
  }, 60_000);

  it('keeps its last route under coordinator_loss: fail_static', async () => {
    cluster = await startCluster({ replicas: 2, members: etcd, etcd: { coordinator_loss: 'fail_static' }, defaults: { health_check: PATIENT_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
    const r = cluster.replicas[0]!;
    await waitFor(async () => (await get(r)).body.includes('a1'), { what: 'r0 serves a1' });
    r.link.blackhole();
    // Well past the lease TTL: still the last route.
    const until = Date.now() + 3_500;
    while (Date.now() < until) {
      expect((await get(r)).body).toContain('a1');
      await new Promise((done) => setTimeout(done, 50));
    }
    r.link.restore();
  }, 60_000);
});
