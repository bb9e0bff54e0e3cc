/**
 * A follower's apply path (cluster-protocol.md, steps 2-3 and 6 on every replica): when the
 * leader commits failing_over(a1, b1, 2), the follower holds new requests, drains a1 (its request
 * in flight there finishes), and only then acknowledges `drained`; it routes to b1 only once the
 * leader commits active(b1, 2), releasing what it held to b1, and acknowledges `routed`.
 * Two in-process replicas on one shared coordinator; requests go through the follower's own proxy port.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { get, useFencedReplicas, type Replica } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

const r = useFencedReplicas(2, { mode: 'manual', drain_timeout: '5s', hold_requests: '20s' }, { timeout: '20s' });

describe('a follower follows the leader through a flip', () => {
  it('holds, drains and acknowledges on failing_over; routes to the new site only after the completion commit', async () => {
    const [leader, follower] = r.set.replicas as [Replica, Replica];
    const { shared } = r.set;
    expect(await get(follower)).toMatchObject({ status: 200, site: 'a1' });
    expect(shared.ackOf('r2', 't')).toEqual({ epoch: 1, stage: 'routed' });

    // A write in flight on the follower's data plane to a1: its drain waits for it.
    const slow = request(`${follower.p.url}/slow?ms=600`, { method: 'POST', body: 'x', headers: { host: 't.example.com' } }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await waitFor(async () => (await r.set.a1.stats()).byPath['/slow'] === 1, { what: 'the write in flight on a1' });

    const flip = leader.p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' });
    const f = follower.p.proxy.tenant('t')!;
    await waitFor(() => f.slot.route.mode === 'hold' && f.slot.route.epoch === 2, { what: 'the follower holding at epoch 2' });
    expect(f.state).toMatchObject({ phase: 'failing_over', from: 'a1', to: 'b1', epoch: 2 });
    const held = get(follower, '/after');

    await waitFor(() => shared.ackOf('r2', 't')?.epoch === 2, { what: "the follower's drained acknowledgement" });
    const drained = shared.acks.find((a) => a.replica === 'r2' && a.epoch === 2)!;
    expect(drained.stage).toBe('drained');
    // The write in flight on a1 finished there (not cut) before the follower said it had drained.
    const drainLog = follower.p.logs.find((l) => String(l.msg).includes('following the leader'));
    expect(drainLog).toMatchObject({ site: 'a1', epoch: 2, inflight: 1, finished: 1, cut: 0 });
    expect(await slow).toMatchObject({ status: 200 });

    // The leader is in its fence hook: nothing committed past the intent, nothing sent to b1.
    await waitFor(() => r.fence.calls.length === 1, { what: 'the fence hook called' });
    expect(r.fence.calls[0]!.body).toMatchObject({ action: 'fence', site: 'a1', epoch: 2 });
    expect(shared.states.get('t')).toMatchObject({ phase: 'failing_over', epoch: 2 });
    expect(f.slot.route).toMatchObject({ mode: 'hold', epoch: 2 });
    expect((await r.set.b1.stats()).byPath['/after']).toBeUndefined();

    r.fence.open();
    const answer = await held;
    const completion = shared.commits.find((c) => c.state.phase === 'active' && c.state.epoch === 2)!;
    expect(completion).toMatchObject({ replica: 'r1', state: { active: 'b1' } });
    expect(completion.refused).toBeUndefined();
    // The held request went to b1, stamped with epoch 2, once the completion was committed.
    expect(answer).toMatchObject({ status: 200, site: 'b1' });
    expect((await r.set.b1.stats()).byPath['/after']).toBe(1);
    expect((await r.set.b1.stats()).lastHeaders).toMatchObject({ 'x-dr-epoch': '2', 'x-dr-site': 'b1' });
    expect(await flip).toMatchObject({ epoch: 2, result: 'routed' });
    await waitFor(() => shared.ackOf('r2', 't')?.stage === 'routed' && shared.ackOf('r2', 't')?.epoch === 2, { what: "the follower's routed acknowledgement" });
    expect(shared.acks.find((a) => a.replica === 'r2' && a.epoch === 2 && a.stage === 'routed')!.at).toBeGreaterThanOrEqual(completion.at);
    expect(await get(follower)).toMatchObject({ status: 200, site: 'b1' });
    // The follower committed nothing and called no hook of its own (one fence call: the leader's).
    expect(shared.commits.filter((c) => c.replica === 'r2')).toEqual([]);
    expect(r.fence.calls).toHaveLength(1);
    // Its own audit trail records the states it applied (the leader's commits), in order.
    const applied = follower.states.map((st) => `${st.phase} ${st.active} ${st.epoch}`);
    expect(applied.slice(-2)).toEqual(['failing_over a1 2', 'active b1 2']);
  });
});
