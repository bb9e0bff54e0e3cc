/**
 * A leader that loses leadership in the middle of a flip (cluster-protocol.md): its wait for the
 * followers' `drained` acknowledgements is refused (DRP_NOT_LEADER); the flip stops there, it
 * freezes nothing, and it keeps holding the requests it held until the next leader's state
 * arrives, which finishes the flip at the same epoch. The controller is not stuck: leading again
 * later, it fails back.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { get, useFencedReplicas } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

const r = useFencedReplicas(2, { mode: 'manual', drain_timeout: '10s', hold_requests: '20s', min_interval: '0s' }, { timeout: '20s' });

describe('leadership lost during a flip', () => {
  it('stops the flip without freezing, keeps holding, follows the next leader, and is not stuck', async () => {
    const [r1, r2] = r.set.replicas;
    const { shared } = r.set;
    const t1 = r1!.p.proxy.tenant('t')!;
    // A write in flight on r2 keeps r2 draining: r1 waits for r2's drained acknowledgement.
    const slow = request(`${r2!.p.url}/slow?ms=800`, { method: 'POST', body: 'x', headers: { host: 't.example.com' } }).then((r) => r.body.text().then(() => r.statusCode));
    await waitFor(async () => (await r.set.a1.stats()).byPath['/slow'] === 1, { what: 'the write in flight on a1' });
    const flip = t1.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' }).then(
      () => 'routed',
      (err: unknown) => (err as { code?: string }).code,
    );
    await waitFor(() => shared.ackOf('r1', 't')?.epoch === 2, { what: "r1's own drained acknowledgement" });
    expect(shared.ackOf('r2', 't')).toEqual({ epoch: 1, stage: 'routed' });

    shared.setLeader('r2');
    expect(await flip).toBe('DRP_NOT_LEADER');
    // Not frozen, still holding: a request to r1 waits for the next state.
    expect(t1.state).toMatchObject({ phase: 'failing_over', from: 'a1', to: 'b1', epoch: 2 });
    expect(t1.slot.route).toMatchObject({ mode: 'hold', epoch: 2 });
    const held = get(r1!, '/held');
    // r2 resumes the flip at epoch 2; it is in its fence hook now.
    await waitFor(() => r.fence.calls.length === 1, { what: "r2's fence hook" });
    expect(r.fence.calls[0]!.body).toMatchObject({ site: 'a1', epoch: 2 });
    expect(await slow).toBe(200);
    expect(t1.slot.route).toMatchObject({ mode: 'hold', epoch: 2 });
    expect((await r.set.b1.stats()).byPath['/held']).toBeUndefined();

    r.fence.open();
    expect(await held).toMatchObject({ status: 200, site: 'b1' });
    expect(t1.state).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    expect(shared.commits.filter((c) => !c.refused && c.state.phase === 'frozen')).toEqual([]);

    // Leading again, r1 fails back: nothing of the stopped flip is left blocking it.
    shared.setLeader('r1');
    const back = await t1.failback({ reason: 'back', actor: 'test' });
    expect(back).toMatchObject({ from: 'b1', to: 'a1', epoch: 3, result: 'routed' });
    expect(await get(r2!)).toMatchObject({ status: 200, site: 'a1' });
  });
});
