/**
 * Health by quorum counts the live replicas (`quorum: majority`): when one goes, the majority
 * shrinks and the tenant is decided again at once, without waiting for a health change. Two
 * drproxy processes on real etcd: the leader's link to the primary is cut, the other still sees
 * it up (1 of 2: no flip); the other replica is SIGKILLed: once its lease expires the leader is
 * the only live replica, its own view is the majority, and it fails over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED, ETCD_SKIP_REASON } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startRelay, type TcpRelay } from './helpers/tcp-relay.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

async function admin(r: Replica, path: string): Promise<Record<string, any>> {
  const res = await request(`${r.child.adminUrl}${path}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  return (await res.body.json()) as Record<string, any>;
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the quorum follows the live replicas', () => {
  let cluster: Cluster | undefined;
  let ups: Upstream[] = [];
  let relays: TcpRelay[] = [];
  afterEach(async () => {
    await cluster?.stop();
    await Promise.all(relays.map((r) => r.close()));
    await stopAll(...ups);
    cluster = undefined;
    relays = [];
  });

  it('a replica gone: the majority is the leader alone, and it fails over on its own view', async () => {
    const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')]));
    relays = await Promise.all([0, 1].map(() => startRelay(a1!.url)));
    cluster = await startCluster({ replicas: 2, defaults: { health_check: FAST_CHECKS }, tenants: (i) => ({ t: twoSiteTenant('t.example.com', relays[i]!, b1!) }) });
    const leader = await cluster.leader();
    const other = cluster.replicas.find((r) => r !== leader)!;
    const votes = async (): Promise<Record<string, Record<string, string>>> => (await admin(leader, '/status')).cluster.votes.t ?? {};
    await waitFor(async () => Object.keys(await votes()).length === 2, { what: 'both replicas voting', timeout: 15_000 });

    relays[cluster.replicas.indexOf(leader)]!.cut();
    await waitFor(async () => {
      const v = await votes();
      return v[leader.id]?.a1 === 'down' && v[other.id]?.a1 === 'up';
    }, { what: 'the leader voting a1 down, the other up', timeout: 5000 });
    expect((await admin(leader, '/tenants/t')).epoch).toBe(1);

    await other.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => {
      const t = await admin(leader, '/tenants/t');
      return t.epoch === 2 && t.active === 'b1' && t.phase === 'active';
    }, { what: 'the leader alone failing over to b1', timeout: 10_000 });
    const ms = Date.now() - killedAt;
    console.log(`quorum follows the live replicas: the other replica killed → flip in ${ms} ms (lease TTL 2 s)`);
    // Its lease expires within the TTL (2 s); the flip follows at once, not at a later health change.
    expect(ms).toBeLessThan(2000 + 1000);
    expect((await admin(leader, '/status')).cluster.votes.t).toEqual({ [leader.id]: { a1: 'down', b1: 'up' } });
  }, 60_000);
});
