/**
 * Issue 18 step 2: the Coordinator on etcd (src/cluster/etcd-coordinator.ts), on a real etcd,
 * three replicas in this process each behind its own TCP relay. Only the leader commits; a
 * follower's commit is refused; a stale expected epoch is refused (by the cache and by etcd's
 * mod-revision guard); followers' watches see the leader's commits, the leader's own watch does
 * not; a damaged record throws on load.
 */
import { describe, expect, it } from 'vitest';
import type { TenantState } from '../src/state/types.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { activeAt, codeOf, freshPrefix, leaderOf, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: leader-only, epoch-guarded commits (real etcd)', () => {
  const s = useEtcd(1);

  it('only the leader commits; a follower is refused; followers watch the commit, the leader does not', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2', 'r3']);
    const leader = await leaderOf(rs);
    const followers = rs.filter((r) => r !== leader);
    const seen = new Map<string, TenantState[]>(rs.map((r) => [r.id, []]));
    for (const r of rs) r.coordinator.watch('acme', (st) => seen.get(r.id)!.push(st));

    const committed = await leader.coordinator.commit('acme', activeAt(1), undefined);
    expect(committed).toMatchObject({ tenant: 'acme', epoch: 1, phase: 'active', active: 'a' });
    const stored = await s.direct.get(`${prefix}/tenants/acme`);
    expect(JSON.parse(stored.kv!.value)).toEqual(committed);

    for (const f of followers) {
      await waitFor(() => seen.get(f.id)!.length === 1, { timeout: 3000, what: `${f.id} sees the commit` });
      // Its cache is at epoch 1, so only leadership stops this commit.
      expect(f.coordinator.mayDecide()).toBe(false);
      expect(await codeOf(f.coordinator.commit('acme', activeAt(2, 'b'), 1))).toBe('DRP_NOT_LEADER');
      expect(seen.get(f.id)).toEqual([committed]);
      expect(await f.coordinator.load('acme')).toEqual(committed);
    }
    expect(await leader.coordinator.load('acme')).toEqual(committed);
    // The follower's refused commit changed nothing.
    expect((await s.direct.get(`${prefix}/tenants/acme`)).kv!.modRevision).toBe(stored.kv!.modRevision);

    const second = await leader.coordinator.commit('acme', activeAt(2, 'b'), 1);
    for (const f of followers) await waitFor(() => seen.get(f.id)!.length === 2, { timeout: 3000, what: `${f.id} sees epoch 2` });
    expect(seen.get(followers[0]!.id)![1]).toEqual(second);
    // The leader's own commits are never reported to its own watch.
    expect(seen.get(leader.id)).toEqual([]);
  });

  it('refuses a stale expected epoch, from its cache and at etcd (mod revision guard)', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    const leader = await leaderOf(rs);
    const c = leader.coordinator;
    expect(await codeOf(c.commit('t', activeAt(1), 0))).toBe('DRP_STATE_CONFLICT'); // no state yet
    await c.commit('t', activeAt(1), undefined);
    expect(await codeOf(c.commit('t', activeAt(1), undefined))).toBe('DRP_STATE_CONFLICT');
    await c.commit('t', activeAt(2, 'b'), 1);
    expect(await codeOf(c.commit('t', activeAt(3), 1))).toBe('DRP_STATE_CONFLICT');
    expect(await codeOf(c.commit('t', activeAt(1), 2))).toBe('DRP_STATE_EPOCH_REGRESSION');

    // A record written behind the leader's back (as by another leader): the leader's commit,
    // sent before its watch delivered that write (its link held), fails etcd's guard.
    const key = `${prefix}/tenants/t`;
    const before = (await s.direct.get(key)).kv!;
    leader.relay.blackhole();
    const other = { ...JSON.parse(before.value), epoch: 3, reason: 'elsewhere' };
    await s.direct.txn([], [{ put: key, value: JSON.stringify(other) }]);
    const late = c.commit('t', activeAt(3, 'c'), 2);
    await new Promise((r) => setImmediate(r)); // the batch is sent (and held by the relay)
    leader.relay.restore();
    expect(await codeOf(late)).toBe('DRP_STATE_CONFLICT');
    expect(JSON.parse((await s.direct.get(key)).kv!.value).reason).toBe('elsewhere');
    // Its cache caught up: a commit on the stored epoch goes through.
    await waitFor(async () => (await c.load('t'))?.epoch === 3, { timeout: 3000, what: 'cache at epoch 3' });
    expect((await c.commit('t', activeAt(4, 'a'), 3)).epoch).toBe(4);
  });

  it('a damaged record throws DRP_STATE_CORRUPT on load, on every replica', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    await s.direct.txn(
      [],
      [
        { put: `${prefix}/tenants/bad`, value: '{"epoch": ' },
        { put: `${prefix}/tenants/odd`, value: '{"tenant":"other","epoch":1}' },
      ],
    );
    for (const r of rs) {
      await waitFor(async () => (await codeOf(r.coordinator.load('bad')).catch(() => '')) === 'DRP_STATE_CORRUPT', { timeout: 3000, what: 'bad record seen' });
      expect(await codeOf(r.coordinator.load('odd'))).toBe('DRP_STATE_CORRUPT');
    }
  });
});
