/**
 * Issue 18 step 2 ("Acknowledged routing"): the leader's acknowledged() settles once every live
 * replica has acknowledged the stage of the epoch (or a later one); a replica whose link is
 * black-holed is waited for only until its lease expires (within TTL + 1 s); a leader that
 * steps down meanwhile gets DRP_NOT_LEADER; alone and acked, there is nothing to wait for.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { TTL, activeAt, codeOf, freshPrefix, leaderOf, startReplica, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

/** Tracks whether a promise settled (and how). */
function track(p: Promise<void> | undefined) {
  const t = { settled: false, error: undefined as unknown, at: 0 };
  void p?.then(
    () => Object.assign(t, { settled: true, at: performance.now() }),
    (error: unknown) => Object.assign(t, { settled: true, error, at: performance.now() }),
  );
  return t;
}

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: acknowledgements (real etcd)', () => {
  const s = useEtcd(1);

  it('alone: undefined once acked; a follower may not wait', async () => {
    const prefix = freshPrefix();
    const r = await startReplica(s, prefix, 'solo');
    await waitFor(() => r.coordinator.mayDecide(), { timeout: TTL + 3000, what: 'solo leads' });
    await r.coordinator.commit('t', activeAt(1), undefined);
    const before = r.coordinator.acknowledged('t', 1, 'drained');
    expect(before).toBeInstanceOf(Promise);
    r.coordinator.acknowledge('t', 1, 'drained');
    await before;
    expect(r.coordinator.acknowledged('t', 1, 'drained')).toBeUndefined();
    expect(r.coordinator.acknowledged('t', 0, 'routed')).toBeUndefined(); // a later epoch covers it
    const routed = r.coordinator.acknowledged('t', 1, 'routed');
    expect(routed).toBeInstanceOf(Promise);
    routed?.catch(() => undefined); // rejected (DRP_NOT_LEADER) when the coordinator closes
    const other = await startReplica(s, prefix, 'other');
    expect(await codeOf(other.coordinator.acknowledged('t', 1, 'drained'))).toBe('DRP_NOT_LEADER');
  });

  it('waits for every live replica; routed covers drained, not the reverse', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2', 'r3']);
    const leader = await leaderOf(rs);
    const [f1, f2] = rs.filter((r) => r !== leader);
    await leader.coordinator.commit('t', activeAt(1), undefined);
    const drained = track(leader.coordinator.acknowledged('t', 1, 'drained'));
    const routed = track(leader.coordinator.acknowledged('t', 1, 'routed'));
    leader.coordinator.acknowledge('t', 1, 'drained');
    f1!.coordinator.acknowledge('t', 1, 'routed');
    f2!.coordinator.acknowledge('t', 1, 'drained');
    // Both followers' acks are in etcd (and so, soon, in the leader's view): routed still waits for f2.
    await waitFor(async () => (await s.direct.getPrefix(`${prefix}/acks/`)).kvs.length === 3, { timeout: 3000, what: 'three acks stored' });
    await waitFor(() => drained.settled, { timeout: 3000, what: 'drained acknowledged by all' });
    expect(drained.error).toBeUndefined();
    expect(routed.settled).toBe(false);
    leader.coordinator.acknowledge('t', 1, 'routed');
    f2!.coordinator.acknowledge('t', 1, 'routed');
    await waitFor(() => routed.settled, { timeout: 3000, what: 'routed acknowledged by all' });
    expect(routed.error).toBeUndefined();
  });

  it('stops waiting for a black-holed replica once its lease expired (within TTL + 1 s)', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2', 'r3']);
    const leader = await leaderOf(rs);
    const [f1, f2] = rs.filter((r) => r !== leader);
    const f2Key = `${prefix}/replicas/${f2!.id}`;
    const registered = (await s.direct.get(f2Key)).kv;
    expect(registered).toBeDefined();
    // The leader waits only for the replicas it has seen register: f2's key may still be on its way.
    await waitFor(() => leader.coordinator.status().replicas.some((r) => r.id === f2!.id), { timeout: 3000, what: 'the leader sees f2' });
    await leader.coordinator.commit('t', activeAt(1), undefined);
    const wait = track(leader.coordinator.acknowledged('t', 1, 'drained'));
    leader.coordinator.acknowledge('t', 1, 'drained');
    f1!.coordinator.acknowledge('t', 1, 'drained');
    await waitFor(async () => (await s.direct.getPrefix(`${prefix}/acks/`)).kvs.length === 2, { timeout: 3000, what: 'two acks stored' });
    f2!.relay.blackhole();
    const cutAt = performance.now();
    await waitFor(() => wait.settled, { timeout: TTL + 3000, what: 'the wait settles' });
    expect(wait.error).toBeUndefined();
    expect(wait.at - cutAt).toBeLessThan(TTL + 1000);
    // Not before etcd expired f2's lease: the registration it had is gone. On a loaded machine
    // f2's keepalive can miss the lease by itself before the cut (clean-clone runs saw it): then
    // the wait ends early, f2 may register again under a new lease, and the key that is there is
    // a newer one.
    const now = (await s.direct.get(f2Key)).kv;
    expect(now === undefined || now.createRevision !== registered!.createRevision).toBe(true);
    // Black-holed, f2's latest lease expires too, and the leader stops counting it.
    await waitFor(() => !leader.coordinator.status().replicas.some((r) => r.id === f2!.id), { timeout: TTL + 3000, what: 'f2 out of the live replicas' });
  });

  it('rejects the wait with DRP_NOT_LEADER when the leader loses its lease', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    const leader = await leaderOf(rs);
    await leader.coordinator.commit('t', activeAt(1), undefined);
    const wait = leader.coordinator.acknowledged('t', 1, 'drained');
    leader.relay.blackhole();
    const bounded = Promise.race([wait, new Promise((resolve) => setTimeout(resolve, 2 * TTL).unref())]);
    expect(await codeOf(bounded)).toBe('DRP_NOT_LEADER');
    expect(leader.coordinator.mayDecide()).toBe(false);
  });
});
