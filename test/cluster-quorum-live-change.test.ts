/**
 * Health by quorum counts the live replicas (`quorum: majority`): when one goes, the majority
 * shrinks and the tenant is decided again at once, without waiting for a health change or a
 * vote. Two drproxy processes on real etcd; r1 does not serve tenant t (its config has only u),
 * so it never votes for t and its going changes no vote of t: only the live count changes.
 * The primary of t dies: r0 sees it down, 1 of the 2 live replicas, no flip (a replica that has
 * not voted counts as not seeing it down); r1 is SIGKILLed: once its lease expires r0 is the
 * only live replica, its own view is the majority, and it fails over.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED, ETCD_SKIP_REASON } from './helpers/etcd.js';
import { adminJson, useClusterTest } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);


describe.skipIf(!ETCD_INSTALLED)('clustered: the quorum follows the live replicas', () => {
  const test = useClusterTest();

  it('a replica gone: the majority is the leader alone, and it fails over on its own view', async () => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 2,
      defaults: { health_check: FAST_CHECKS },
      tenants: (i) => (i === 0 ? { t: twoSiteTenant('t.example.com', a1!, b1!) } : { u: twoSiteTenant('u.example.com', a1!, b1!) }),
    });
    const leader = await cluster.leader();
    expect(leader.id).toBe('r0'); // started first; r1 could not decide t, which it does not know
    const other = cluster.replicas[1]!;
    const votes = async (): Promise<Record<string, Record<string, string>>> => (await adminJson(leader, '/status')).cluster.votes.t ?? {};
    await waitFor(async () => (await votes()).r0?.a1 === 'up', { what: 'r0 voting a1 up', timeout: 15_000 });

    await a1!.kill('SIGKILL');
    await waitFor(async () => (await votes()).r0?.a1 === 'down', { what: 'r0 voting a1 down', timeout: 5000 });
    // r0's vote is 1 of 2 live replicas: no flip, for several check intervals.
    const until = Date.now() + 1000;
    await waitFor(async () => {
      expect((await adminJson(leader, '/tenants/t')).epoch).toBe(1);
      return Date.now() > until;
    }, { what: 'a second without a flip', interval: 100, timeout: 5000 });

    await other.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => {
      const t = await adminJson(leader, '/tenants/t');
      return t.epoch === 2 && t.active === 'b1' && t.phase === 'active';
    }, { what: 'the leader alone failing over to b1', timeout: 10_000 });
    const ms = Date.now() - killedAt;
    console.log(`quorum follows the live replicas: the other replica killed → flip in ${ms} ms (lease TTL 2 s)`);
    // Its lease expires within the TTL (2 s); the flip follows at once, not at a later health change.
    expect(ms).toBeLessThan(2000 + 1000);
    expect((await adminJson(leader, '/status')).cluster.votes.t).toEqual({ r0: { a1: 'down', b1: 'up' } });
  }, 60_000);
});
