/**
 * Two-person approval in clustered mode, shared through etcd (docs/approvals.md): an operator
 * asks on replica A, a second operator approves on replica B (as behind a load balancer). B
 * lists the request, refuses the asker's own approval (403), carries out the second operator's
 * (B forwards the failover to the leader A), and the records of both replicas name both actors;
 * a second approval of the same request, on either replica, is 409. An expired request
 * approved on another replica is 410 and nothing happens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { FAST_CHECKS, tempDir, twoSiteTenant } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { admin, adminTokens, OPERATOR, VIEWER, type AdminAnswer } from './helpers/admin.js';
import { auditOf, served, sitesUp, tenantOf } from './helpers/cluster-admin.js';
import { waitFor } from './helpers/poll.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let cluster: Cluster | undefined;
let ups: Upstream[] = [];

afterEach(async () => {
  await cluster?.stop();
  await stopAll(...ups);
  cluster = undefined;
});

/** Two replicas, tenant t marked two_person; A leads, B follows; both serve a1. */
async function start(admin: (i: number) => Record<string, unknown> = () => ({})): Promise<{ a: Replica; b: Replica }> {
  const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')])) as [Upstream, Upstream];
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  cluster = await startCluster({
    replicas: 2,
    admin: (i) => ({ tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }], ...admin(i) }),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s' } },
    tenants: { t: { ...twoSiteTenant('t.example.com', a1, b1), approval: 'two_person' } },
  });
  const a = await cluster.leader();
  const b = cluster.replicas.find((r) => r !== a)!;
  await sitesUp(cluster, a);
  for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });
  return { a, b };
}

const post = (r: Replica, path: string, token: string, body: Record<string, unknown>): Promise<AdminAnswer> => admin(r.child.adminUrl, 'POST', path, { token, body });
const approvals = async (r: Replica): Promise<Array<Record<string, unknown>>> => (await admin(r.child.adminUrl, 'GET', '/approvals', { token: VIEWER })).body.approvals as Array<Record<string, unknown>>;

describe.skipIf(!ETCD_INSTALLED)('two-person approval shared by every replica', () => {
  it('asked on A, listed and approved on B by a second operator, carried out once', async () => {
    const { a, b } = await start();
    const asked = await post(a, '/tenants/t/failover', OPERATOR, { to: 'b1', reason: 'CHG-20 asked on A' });
    expect(asked.status).toBe(202);
    const id = (asked.body.approval as { id: string }).id;

    expect(await approvals(b)).toEqual([expect.objectContaining({ id, status: 'pending', action: 'failover', tenant: 't', requested_by: 'ops' })]);
    const self = await post(b, `/approvals/${id}`, OPERATOR, { reason: 'my own' });
    expect(self.status).toBe(403);
    expect(self.body).toMatchObject({ error: 'same_approver' });
    expect((await tenantOf(cluster!, a)).epoch).toBe(1);

    const ok = await post(b, `/approvals/${id}`, OPERATOR2, { reason: 'checked CHG-20 on B' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ epoch: 2, to: 'b1', forwarded_to: a.id, approval: { id, status: 'approved', requested_by: 'ops', approved_by: 'ops2' } });
    expect(await tenantOf(cluster!, a)).toMatchObject({ epoch: 2, active: 'b1' });
    for (const r of [a, b]) await waitFor(async () => (await served(r)).site === 'b1', { what: `${r.id} on b1` });

    for (const r of [a, b]) {
      const again = await post(r, `/approvals/${id}`, OPERATOR2, { reason: 'twice' });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ error: 'approval_decided' });
    }
    expect((await tenantOf(cluster!, a)).epoch).toBe(2);
    expect(await approvals(a)).toEqual([expect.objectContaining({ id, status: 'approved', decided_by: 'ops2', outcome: { status: 200 } })]);

    // A (asked, and leads): the pending request, and the failover B forwarded to it.
    expect(auditOf(a).find((l) => l.action === 'failover' && l.result === 'pending')).toMatchObject({ approval: id, requested_by: 'ops', actor: 'ops', status: 202 });
    await waitFor(() => auditOf(a).some((l) => l.action === 'failover' && l.forwarded_from === b.id && l.result === 'ok'), { what: "A's record of the forwarded failover" });
    expect(auditOf(a).find((l) => l.action === 'failover' && l.forwarded_from === b.id && l.result === 'ok')).toMatchObject({ actor: 'ops', approval: id, requested_by: 'ops', approved_by: 'ops2' });
    // B (approved): the approval by ops2 and the carried-out failover naming both.
    await waitFor(() => auditOf(b).some((l) => l.action === 'failover' && l.result === 'ok'), { what: "B's record of the failover" });
    expect(auditOf(b).find((l) => l.action === 'approve' && l.result === 'ok')).toMatchObject({ actor: 'ops2', approval: id, requested_by: 'ops', approved_by: 'ops2' });
    expect(auditOf(b).find((l) => l.action === 'failover' && l.result === 'ok')).toMatchObject({ actor: 'ops', approval: id, requested_by: 'ops', approved_by: 'ops2', forwarded_to: a.id, epoch_after: 2 });
    expect(auditOf(b).filter((l) => l.action === 'approve' && l.phase !== 'intent').map((l) => l.status)).toEqual([403, 200, 409]);
  });

  it('an expired request approved on another replica is 410 and does nothing', async () => {
    const dir = await tempDir();
    const file = (r: Replica): string => join(dir, `audit-${r.id}.log`);
    const records = async (r: Replica): Promise<Array<Record<string, unknown>>> => (await readFile(file(r), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const { a, b } = await start((i) => ({ approval_timeout: '1s', audit_file: join(dir, `audit-r${i}.log`) }));
    const asked = await post(b, '/tenants/t/failover', OPERATOR, { to: 'b1', reason: 'CHG-21 asked on B' });
    expect(asked.status).toBe(202);
    const { id, expires_at } = asked.body.approval as { id: string; expires_at: string };
    // Poll the clock, not a fixed sleep: past expires_at the request is expired.
    await waitFor(() => Date.now() > Date.parse(expires_at) + 50, { what: 'the request to expire' });

    const late = await post(a, `/approvals/${id}`, OPERATOR2, { reason: 'too late' });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ error: 'approval_expired' });
    expect(await tenantOf(cluster!, a)).toMatchObject({ epoch: 1, active: 'a1' });
    expect((await served(b)).site).toBe('a1');
    expect(await approvals(b)).toEqual([expect.objectContaining({ id, status: 'expired' })]);
    // Marked expired once, by A (which found it so), and audited there; the refused approval too.
    const [ra, rb] = [await records(a), await records(b)];
    expect(ra.filter((l) => l.event === 'approval_expired')).toEqual([expect.objectContaining({ approval: id, requested_by: 'ops', tenant: 't' })]);
    expect(rb.some((l) => l.event === 'approval_expired')).toBe(false);
    expect(ra.some((l) => l.action === 'approve' && l.actor === 'ops2' && l.status === 410)).toBe(true);
    expect(rb.some((l) => l.action === 'failover' && l.result === 'pending' && l.approval === id)).toBe(true);
    expect([...ra, ...rb].some((l) => l.action === 'failover' && l.approved_by !== undefined)).toBe(false);
  });
});
