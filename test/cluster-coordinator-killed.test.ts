/**
 * Issue 18 split-brain scenario 3 at the coordinator: the leader, a process of its own, is
 * SIGKILLed (no resign) halfway through a flip. A follower in this process leads within
 * TTL + 1 s, finds the flip's intent at its persisted epoch, and its first commit (the flip's
 * completion at that epoch) succeeds; so does the next epoch.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { TTL, activeAt, freshPrefix, leaderOf, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const CHILD = fileURLToPath(new URL('./fixtures/cluster-coordinator-child.mjs', import.meta.url));

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: a leader killed mid-flip (real etcd)', () => {
  const s = useEtcd(1);

  it('the next leader finds the intent at its persisted epoch and commits the completion, within TTL + 1 s', async () => {
    const prefix = freshPrefix();
    const child = spawn(process.execPath, [CHILD, '--endpoint', s.etcd.endpoints[0]!, '--prefix', prefix, '--id', 'child', '--ttl', String(TTL)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    s.cleanup(() => child.kill('SIGKILL'));
    const io = { out: '' };
    child.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
    await waitFor(() => io.out.includes('LEADER'), { timeout: 10_000, what: 'child leads' });
    child.stdin!.write('commit t active a 1 none\ncommit t failing_over b 2 1\n');
    await waitFor(() => io.out.includes('COMMIT ok 2'), { timeout: 5000, what: `child committed the intent: ${io.out}` });

    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    await waitFor(() => rs.every((r) => r.coordinator.status().leader === 'child'), { timeout: 3000, what: 'followers see the child lead' });
    expect(rs.some((r) => r.coordinator.mayDecide())).toBe(false);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const killedAt = performance.now();

    const next = await leaderOf(rs);
    const intent = await next.coordinator.load('t');
    expect(intent).toMatchObject({ epoch: 2, phase: 'failing_over', from: 'a', to: 'b' });
    const done = await next.coordinator.commit('t', activeAt(2, 'b', 'finished by the next leader'), 2);
    expect(performance.now() - killedAt).toBeLessThan(TTL + 1000);
    expect(done).toMatchObject({ epoch: 2, phase: 'active', active: 'b' });
    expect((await next.coordinator.commit('t', activeAt(3, 'a'), 2)).epoch).toBe(3);
    // The dead leader's registration went with its lease.
    expect((await s.direct.get(`${prefix}/replicas/child`)).kv).toBeUndefined();
  });
});
