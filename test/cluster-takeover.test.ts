/**
 * Leader takeover (issue 18, scenario 3; cluster-protocol.md): the leader commits
 * failing_over(a1, b1, 2) and stops in its fence hook; leadership passes to the follower, which
 * reloads the state and finishes that flip at epoch 2 (no new epoch). The old leader's late
 * commit fails its guard: it freezes nothing and follows the new leader's completion.
 */
import { describe, expect, it } from 'vitest';
import { get, useFencedReplicas } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

const r = useFencedReplicas(2, { mode: 'manual', hold_requests: '20s' }, { required: true, timeout: '20s' });

describe('a new leader finds a flip half done', () => {
  it('finishes it at its persisted epoch; the old leader stops without freezing and follows', async () => {
    const [r1, r2] = r.set.replicas;
    const { shared } = r.set;
    const t1 = r1!.p.proxy.tenant('t')!;
    const t2 = r2!.p.proxy.tenant('t')!;
    const flip = t1.operatorFailover({ to: 'b1', reason: 'half done', actor: 'test' });
    const outcome = flip.then(
      (record) => ({ record }),
      (err: unknown) => ({ err: err as Error & { code?: string } }),
    );
    await waitFor(() => r.fence.calls.length === 1, { what: "the old leader's fence hook in progress" });
    expect(shared.states.get('t')).toMatchObject({ phase: 'failing_over', from: 'a1', to: 'b1', epoch: 2 });

    // The old leader is stuck in its hook; the follower takes over.
    shared.setLeader('r2');
    await waitFor(() => r.fence.calls.length === 2, { what: "the new leader's fence hook" });
    expect(r.fence.calls[1]!.body).toMatchObject({ action: 'fence', site: 'a1', epoch: 2 });
    r.fence.open();
    await waitFor(() => shared.states.get('t')?.phase === 'active', { what: 'the flip finished' });
    expect(shared.states.get('t')).toMatchObject({ phase: 'active', active: 'b1', epoch: 2, fenced: ['a1'] });

    // The old leader's completion commit (after its hook answered) fails the guard: no freeze.
    const done = await outcome;
    expect('err' in done && done.err.code).toBe('DRP_NOT_LEADER');
    const epochs = shared.commits.filter((c) => !c.refused).map((c) => [c.replica, c.state.phase, c.state.epoch]);
    expect(epochs).toEqual([
      ['r1', 'active', 1],
      ['r1', 'failing_over', 2],
      ['r2', 'active', 2],
    ]);
    await waitFor(() => t1.slot.route.mode === 'serve' && t1.slot.route.site === 'b1', { what: 'the old leader routing b1' });
    expect(t1.state).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    expect(t2.state).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    for (const r of [r1!, r2!]) expect(await get(r)).toMatchObject({ status: 200, site: 'b1' });
    expect((await r.set.b1.stats()).lastHeaders).toMatchObject({ 'x-dr-epoch': '2' });
  });
});
