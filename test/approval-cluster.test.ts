/**
 * Two-person approval in clustered mode: a request made on a follower (kept in etcd, see
 * approval-cluster-shared.test.ts for one approved on another replica), approved there by a
 * second operator: the failover goes through the usual forwarding and the
 * leader carries it out (its records say forwarded_from). The follower's records of the
 * carried-out action name both actors.
 */
import { afterEach, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { adminTokens, OPERATOR } from './helpers/admin.js';
import { auditOf, served, sitesUp, tenantOf } from './helpers/cluster-admin.js';
import { waitFor } from './helpers/poll.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let cluster: Cluster | undefined;
let ups: Upstream[] = [];

afterEach(async () => {
  await cluster?.stop();
  await stopAll(...ups);
});

async function post(r: Replica, path: string, token: string, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, any> }> {
  const res = await request(`${r.child.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
}

it.skipIf(!ETCD_INSTALLED)('a request on a follower, approved there, is carried out by the leader', async () => {
  const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')])) as [Upstream, Upstream];
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  cluster = await startCluster({
    replicas: 2,
    admin: { tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }] },
    defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s' } },
    tenants: { t: { ...twoSiteTenant('t.example.com', a1, b1), approval: 'two_person' } },
  });
  const leader = await cluster.leader();
  const follower = cluster.replicas.find((r) => r !== leader)!;
  await sitesUp(cluster, leader);
  for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });

  const asked = await post(follower, '/tenants/t/failover', OPERATOR, { to: 'b1', reason: 'CHG-9 via a follower' });
  expect(asked.status).toBe(202);
  const id = asked.body.approval.id as string;
  expect((await tenantOf(cluster, leader)).epoch).toBe(1);

  const self = await post(follower, `/approvals/${id}`, OPERATOR, { reason: 'me' });
  expect(self.status).toBe(403);
  const ok = await post(follower, `/approvals/${id}`, OPERATOR2, { reason: 'checked CHG-9' });
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ epoch: 2, to: 'b1', forwarded_to: leader.id, approval: { id, approved_by: 'ops2', requested_by: 'ops' } });
  expect(await tenantOf(cluster, leader)).toMatchObject({ epoch: 2, active: 'b1' });

  await waitFor(() => auditOf(follower).some((a) => a.action === 'failover' && a.result === 'ok' && a.approved_by === 'ops2'), { what: "the follower's record" });
  expect(auditOf(follower).find((a) => a.action === 'failover' && a.result === 'ok' && a.approved_by === 'ops2')).toMatchObject({ requested_by: 'ops', actor: 'ops', approval: id, forwarded_to: leader.id });
  await waitFor(() => auditOf(leader).some((a) => a.action === 'failover' && a.forwarded_from === follower.id && a.result === 'ok'), { what: "the leader's record" });
});
