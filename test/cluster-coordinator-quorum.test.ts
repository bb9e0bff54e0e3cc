/**
 * Issue 18 split-brain scenario 2 at the coordinator: etcd loses quorum (two of three members
 * stopped). No replica may decide or commit; under fail_closed each stops serving within its
 * lease TTL; when quorum returns, every replica starts a new session (new lease, re-read), one
 * leads, and a commit at the next epoch succeeds.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { MARGIN, TTL, activeAt, codeOf, freshPrefix, leaderOf, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: etcd loses quorum (real etcd, 3 members)', () => {
  const s = useEtcd(3);

  it('nobody decides, fail_closed replicas stop serving within the TTL, and all recover with quorum', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2', 'r3']); // each through a relay to member 0
    const leader = await leaderOf(rs);
    await leader.coordinator.commit('t', activeAt(1), undefined);
    const leases = rs.map((r) => r.lease.id);

    // Each replica's last good keepalive (send time), and when it stopped serving.
    const lastSend = rs.map((r) => r.lease.deadline - TTL + MARGIN);
    const stoppedAt = rs.map(() => Infinity);
    rs.forEach((r, i) => {
      r.lease.on('renewed', (d) => (lastSend[i] = d - TTL + MARGIN));
      r.coordinator.onStatus(() => {
        if (!r.coordinator.serving()) stoppedAt[i] = Math.min(stoppedAt[i]!, performance.now());
      });
    });
    await Promise.all([s.etcd.stopMember(1, 'SIGKILL'), s.etcd.stopMember(2, 'SIGKILL')]);
    // The remaining member, if it led, renews leases until it notices the lost quorum (election
    // timeout, 500 ms): so the TTL counts from each replica's last keepalive that succeeded.
    await waitFor(() => rs.every((r) => !r.coordinator.serving()), { timeout: TTL + 2000, what: 'every replica stops serving' });
    rs.forEach((_, i) => {
      expect(stoppedAt[i]! - lastSend[i]!).toBeGreaterThanOrEqual(TTL - 5);
      expect(stoppedAt[i]! - lastSend[i]!).toBeLessThan(TTL + 250);
    });
    for (const r of rs) {
      expect(r.coordinator.mayDecide()).toBe(false);
      expect(await codeOf(r.coordinator.commit('t', activeAt(2, 'b'), 1))).toBe('DRP_NOT_LEADER');
    }

    await Promise.all([s.etcd.startMember(1), s.etcd.startMember(2)]);
    await waitFor(() => rs.every((r) => r.coordinator.serving()), { timeout: 15_000, what: 'every replica serves again' });
    rs.forEach((r, i) => expect(r.lease.id).not.toBe(leases[i]));
    const next = await leaderOf(rs, 10_000);
    expect((await next.coordinator.commit('t', activeAt(2, 'b'), 1)).epoch).toBe(2);
  });
});
