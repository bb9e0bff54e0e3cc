/**
 * Issue 19 in clustered mode: a drill asked of a follower (POST /tenants/:t/drills) is carried
 * out by the leader and passes; the report lives in etcd, so `GET /drills/:id` and `GET /drills`
 * answer the same on every replica; a refusal crosses the forwarding with its reasons (409);
 * the follower's audit says where it sent the drill, the leader's for whom it ran it.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { adminJson } from './helpers/cluster.js';
import { auditOf, post, served } from './helpers/cluster-admin.js';
import { finalReport, useDrillCluster } from './helpers/cluster-drill.js';
import { waitFor } from './helpers/poll.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: drills run by the leader', () => {
  const start = useDrillCluster();

  it('a drill asked of a follower runs on the leader, passes, and every replica shows the same report', async () => {
    const { cluster, leader, follower } = await start();
    const asked = await post(follower, '/tenants/t/drills', { reason: 'quarterly DR test via a follower', dwell: '1s' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    expect(asked.body).toMatchObject({ status: 'running', tenant: 't', from: 'a1', to: 'b1', forwarded_to: leader.id });
    const id = asked.body.id as string;

    const final = await finalReport(follower, id, 30_000);
    expect(final.status, JSON.stringify(final.reasons)).toBe('passed');
    expect(final.runner).toBe(leader.id);
    expect(final.actor).toBe('ops');
    expect(final.measured_rto_ms).toBeGreaterThan(0);
    expect(final.steps.map((s) => [s.name, s.result])).toEqual([
      ['preflight', 'ok'],
      ['failover', 'ok'],
      ['verify', 'ok'],
      ['dwell', 'ok'],
      ['failback', 'ok'],
      ['verify_failback', 'ok'],
      ['restore', 'ok'],
    ]);
    for (const r of cluster.replicas) {
      expect(await adminJson(r, `/drills/${id}`), r.id).toEqual(final);
      const list = await adminJson(r, '/drills?tenant=t');
      expect(list.drills, r.id).toEqual([{ id, kind: 'drproxy.drill', tenant: 't', status: 'passed', started_at: final.started_at, ended_at: final.ended_at, measured_rto_ms: final.measured_rto_ms }]);
    }
    // Back on a1 everywhere, at the epoch after the drill.
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).epoch === String(final.epochs.after), { what: `${r.id} at the epoch after the drill` });
    for (const r of cluster.replicas) expect((await served(r)).site).toBe('a1');

    // The follower's record says where the drill went; the leader ran it for the follower.
    await waitFor(() => auditOf(follower).some((a) => a.action === 'drill' && a.phase === undefined), { what: "the follower's drill record" });
    expect(auditOf(follower).find((a) => a.action === 'drill' && a.phase === undefined)).toMatchObject({ result: 'ok', status: 202, tenant: 't', forwarded_to: leader.id, actor: 'ops' });
    expect(auditOf(leader).find((a) => a.action === 'drill' && a.forwarded_from === follower.id && a.phase === undefined)).toMatchObject({ result: 'ok', tenant: 't', reason: 'quarterly DR test via a follower' });
    // The other follower ran nothing.
    const other = cluster.replicas.find((r) => r !== leader && r !== follower)!;
    expect(auditOf(other).filter((a) => a.action === 'drill' || a.event === 'drill')).toEqual([]);
  }, 90_000);

  it('a drill the leader refuses is refused by the follower with the same reasons (409)', async () => {
    const { leader, follower } = await start();
    const refused = await post(follower, '/tenants/t/drills', { to: 'a1', reason: 'to the site it is on' });
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error).toBe('drill_refused');
    const reasons = refused.body.reasons as Array<{ code: string }>;
    expect(reasons.map((r) => r.code)).toContain('same_site');
    // The refusal is stored by the leader as evidence of the attempt, seen from every replica.
    for (const r of [leader, follower]) {
      const list = await adminJson(r, '/drills?tenant=t');
      expect(list.drills, r.id).toEqual([expect.objectContaining({ tenant: 't', status: 'refused' })]);
      expect(await adminJson(r, `/drills/${list.drills[0].id as string}`)).toMatchObject({ status: 'refused', runner: leader.id });
    }
    await waitFor(() => auditOf(follower).some((a) => a.action === 'drill' && a.phase === undefined), { what: "the follower's drill record" });
    expect(auditOf(follower).find((a) => a.action === 'drill' && a.phase === undefined)).toMatchObject({ result: 'error', status: 409, forwarded_to: leader.id });
  }, 60_000);
});
