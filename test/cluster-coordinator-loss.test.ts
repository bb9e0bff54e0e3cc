/**
 * Issue 18 step 2 ("Losing etcd", split-brain scenarios 1 and 3 at the coordinator): a replica
 * black-holed from etcd stops serving within its lease TTL under fail_closed (keeps serving under
 * fail_static), commits nothing, and comes back after the link heals (new lease, registered,
 * state re-read, including what was committed meanwhile); a leader cut off from etcd is
 * replaced, and the next leader's first commit succeeds at the next epoch.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import type { TenantState } from '../src/state/types.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, compactEtcd, useEtcd } from './helpers/etcd.js';
import { MARGIN, TTL, activeAt, codeOf, freshPrefix, leaderOf, startReplica, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: losing etcd (real etcd)', () => {
  const s = useEtcd(1);

  it('fail_closed: stops serving within the TTL, fail_static keeps serving; both come back after restore', async () => {
    const prefix = freshPrefix();
    const leader = await startReplica(s, prefix, 'leader');
    await waitFor(() => leader.coordinator.mayDecide(), { timeout: TTL + 3000, what: 'leader elected' });
    await leader.coordinator.commit('t', activeAt(1), undefined);
    const closed = await startReplica(s, prefix, 'closed', { loss: 'fail_closed' });
    const stat = await startReplica(s, prefix, 'static', { loss: 'fail_static' });
    const statuses = { closed: 0, static: 0 };
    closed.coordinator.onStatus(() => statuses.closed++);
    stat.coordinator.onStatus(() => statuses.static++);
    const seen: TenantState[] = [];
    closed.coordinator.watch('t', (st) => seen.push(st));
    expect(closed.coordinator.serving()).toBe(true);
    const firstLease = closed.lease.id;

    let lastSend = closed.lease.deadline - TTL + MARGIN;
    closed.lease.on('renewed', (d) => (lastSend = d - TTL + MARGIN));
    let staticLastSend = stat.lease.deadline - TTL + MARGIN;
    stat.lease.on('renewed', (d) => (staticLastSend = d - TTL + MARGIN));
    closed.relay.blackhole();
    stat.relay.blackhole();
    const cutAt = performance.now();
    await waitFor(() => !closed.coordinator.serving(), { timeout: TTL + 1000, what: 'fail_closed replica stops serving' });
    const stoppedAt = performance.now();
    expect(stoppedAt - cutAt).toBeLessThan(TTL + 250);
    // Not before the lease TTL from its last good keepalive's send time.
    expect(stoppedAt - lastSend).toBeGreaterThanOrEqual(TTL - 5);
    expect(statuses.closed).toBeGreaterThanOrEqual(1);
    expect(stat.coordinator.serving()).toBe(true);
    expect(stat.coordinator.mayDecide()).toBe(false);
    await waitFor(() => statuses.static >= 1, { timeout: TTL, what: 'fail_static reports the loss' });
    // Past the moment a fail_closed replica would stop (TTL after its last good keepalive): still serving.
    await waitFor(() => performance.now() > staticLastSend + TTL + 100, { timeout: TTL + 1000, what: 'fail_static past its TTL' });
    expect(stat.coordinator.mayDecide()).toBe(false);
    expect(stat.coordinator.serving()).toBe(true);

    // Committed while they were cut off: both learn it on their re-read.
    await leader.coordinator.commit('t', activeAt(2, 'b'), 1);
    closed.relay.restore();
    stat.relay.restore();
    await waitFor(() => closed.coordinator.serving(), { timeout: 10_000, what: 'fail_closed replica serves again' });
    expect(closed.lease.id).toBeDefined();
    expect(closed.lease.id).not.toBe(firstLease);
    const reg = await s.direct.get(`${prefix}/replicas/closed`);
    expect(reg.kv?.lease).toBe(closed.lease.id);
    expect((await closed.coordinator.load('t'))?.epoch).toBe(2);
    expect(seen.map((x) => x.epoch)).toEqual([2]);
    await waitFor(async () => (await stat.coordinator.load('t'))?.epoch === 2, { timeout: 5000, what: 'fail_static replica re-read' });
    await waitFor(async () => (await s.direct.get(`${prefix}/replicas/static`)).kv !== undefined, { timeout: 5000, what: 'static registered again' });
    expect(leader.coordinator.mayDecide()).toBe(true);
  });

  it('a leader cut off from etcd is replaced; the next leader commits the next epoch; the old one commits nothing', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2', 'r3']);
    const old = await leaderOf(rs);
    await old.coordinator.commit('t', activeAt(1), undefined);
    const others = rs.filter((r) => r !== old);
    await waitFor(async () => (await Promise.all(others.map((r) => r.coordinator.load('t')))).every((st) => st?.epoch === 1), {
      timeout: 3000,
      what: 'followers at epoch 1',
    });
    old.relay.cut();
    const cutAt = performance.now();
    const next = await leaderOf(others);
    expect((await next.coordinator.commit('t', activeAt(2, 'b'), 1)).epoch).toBe(2);
    expect(performance.now() - cutAt).toBeLessThan(TTL + 1000);
    expect(old.coordinator.mayDecide()).toBe(false);
    expect(await codeOf(old.coordinator.commit('t', activeAt(2, 'c'), 1))).toBe('DRP_NOT_LEADER');
    // Healed, the old leader follows: it sees epoch 2 and does not lead.
    old.relay.restore();
    await waitFor(async () => (await old.coordinator.load('t'))?.epoch === 2, { timeout: 10_000, what: 'old leader re-reads' });
    await waitFor(() => old.coordinator.status().leader === next.id, { timeout: 5000, what: 'old leader follows' });
    expect(old.coordinator.mayDecide()).toBe(false);
    expect(JSON.parse((await s.direct.get(`${prefix}/tenants/t`)).kv!.value).active).toBe('b');
  });
});

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: a watch compacted away (real etcd)', () => {
  const s = useEtcd(1);

  it('re-reads the state when etcd cancels its watch (compacted past its revision), without losing its lease', async () => {
    const prefix = freshPrefix();
    // A long lease: on a loaded machine a 2 s lease can lapse during the cut by itself, and
    // then the re-read would come from a new session, not from the compaction path under test.
    const rs = await startReplicas(s, prefix, ['r1', 'r2'], { ttl: 10_000 });
    const leader = await leaderOf(rs, 15_000);
    const follower = rs.find((r) => r !== leader)!;
    const seen: number[] = [];
    follower.coordinator.watch('t', (st) => seen.push(st.epoch));
    await leader.coordinator.commit('t', activeAt(1), undefined);
    await waitFor(() => seen.length === 1, { timeout: 3000, what: 'follower at epoch 1' });
    const followerLease = follower.lease.id;

    // Cut the follower's link (its watch must resume after reconnecting), commit twice, and
    // compact etcd past the revision its watch would resume from.
    follower.relay.cut();
    await leader.coordinator.commit('t', activeAt(2, 'b'), 1);
    const last = await leader.coordinator.commit('t', activeAt(3, 'c'), 2);
    const { revision } = await s.direct.get(`${prefix}/tenants/t`);
    await compactEtcd(s.etcd.endpoints[0]!, revision);
    follower.relay.restore();
    await waitFor(async () => (await follower.coordinator.load('t'))?.epoch === 3, { timeout: 10_000, what: 'follower re-read epoch 3' });
    expect(await follower.coordinator.load('t')).toEqual(last);
    expect(seen).toEqual([1, 3]); // the re-read reports the latest state; epoch 2 was compacted away
    expect(follower.lease.id).toBe(followerLease); // re-read by the compaction path, not a new session after a lost lease
    // And it keeps watching.
    await leader.coordinator.commit('t', activeAt(4, 'a'), 3);
    await waitFor(() => seen.at(-1) === 4, { timeout: 3000, what: 'follower sees epoch 4' });
  });
});
