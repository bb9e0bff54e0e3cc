/**
 * A follower never decides (cluster-protocol.md: mayDecide() is false): with its active site
 * down it keeps its health checks and publishes its routes (it holds: no healthy backend), but it
 * commits nothing, not even an attempt, however long the site stays down. Given the leader flag,
 * the same replica fails the tenant over at once, and the other replica follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, startReplicas, type ReplicaSet } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

let set: ReplicaSet;

beforeAll(async () => {
  set = await startReplicas(2, { mode: 'auto', hold_requests: '5s' });
});

afterAll(async () => {
  await set?.stop();
});

describe('a follower with its active site down', () => {
  it('flips nothing on its own; as the leader it fails over, and the other replica follows', async () => {
    const [r1, r2] = set.replicas;
    const { shared } = set;
    const t2 = r2!.p.proxy.tenant('t')!;
    shared.setLeader(undefined); // nobody decides: r2 (and r1) only follow
    const committed = shared.commits.length;

    await set.a1.kill();
    await waitFor(() => !t2.site('a1')!.health().available, { what: 'r2 seeing a1 down' });
    // Ten more probes of b1 (five rounds of both replicas): decisions that would flip had every chance.
    const probes = (await set.b1.stats()).healthAt.length;
    await waitFor(async () => (await set.b1.stats()).healthAt.length >= probes + 10, { what: 'ten more probes' });
    expect(shared.commits.slice(committed)).toEqual([]);
    expect(t2.state).toMatchObject({ phase: 'active', active: 'a1', epoch: 1 });
    // Its routes follow its own health: a1 has no healthy backend, requests are held.
    expect(t2.slot.route).toMatchObject({ mode: 'hold', site: 'a1', epoch: 1 });

    shared.setLeader('r2');
    await waitFor(() => t2.state.phase === 'active' && t2.state.active === 'b1', { what: 'r2, now the leader, failing over to b1' });
    const after = shared.commits.slice(committed);
    expect(after.map((c) => [c.replica, c.state.phase, c.state.epoch, c.refused])[0]).toEqual(['r2', 'failing_over', 2, undefined]);
    expect(after.filter((c) => c.replica !== 'r2' || c.refused !== undefined)).toEqual([]);
    await waitFor(() => r1!.p.proxy.tenant('t')!.slot.route.site === 'b1', { what: 'r1 following to b1' });
    expect(await get(r1!)).toMatchObject({ status: 200, site: 'b1' });
    expect(await get(r2!)).toMatchObject({ status: 200, site: 'b1' });
  });
});
