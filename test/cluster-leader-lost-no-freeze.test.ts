/**
 * A replica that stopped leading freezes nothing (cluster-protocol.md; issue 18 scenario 3): its
 * required fence hook fails after leadership passed to another replica; where a leader would
 * freeze the tenant, it stops the flip (DRP_NOT_LEADER) and never publishes an unavailable route.
 * The new leader, whose fence hook succeeds, finishes the flip at the same epoch, and it follows.
 */
import { describe, expect, it } from 'vitest';
import { get, useFencedReplicas } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

// The old leader's fence call fails, the new leader's succeeds.
const r = useFencedReplicas(2, { mode: 'manual', hold_requests: '20s' }, { required: true, timeout: '20s' }, [500, 200]);

describe('a required fence hook fails after leadership moved', () => {
  it('does not freeze the old leader, even locally; the new leader finishes the flip', async () => {
    const [r1] = r.set.replicas;
    const { shared } = r.set;
    const t1 = r1!.p.proxy.tenant('t')!;
    const modes: string[] = [];
    t1.slot.onPublish((r) => modes.push(`${r.mode} ${r.site} ${r.epoch}`));
    const flip = t1.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' }).then(
      () => 'finished',
      (err: unknown) => (err as { code?: string }).code,
    );
    await waitFor(() => r.fence.calls.length === 1, { what: "the old leader's fence hook" });
    shared.setLeader('r2');
    await waitFor(() => r.fence.calls.length === 2, { what: "the new leader's fence hook" });
    r.fence.open();

    expect(await flip).toBe('DRP_NOT_LEADER');
    await waitFor(() => t1.slot.route.site === 'b1' && t1.slot.route.mode === 'serve', { what: 'the old leader following to b1' });
    expect(modes).not.toContainEqual(expect.stringMatching(/^unavailable/));
    expect(shared.commits.filter((c) => c.state.phase === 'frozen')).toEqual([]);
    expect(r1!.p.logs.filter((l) => l.event === 'frozen')).toEqual([]);
    expect(shared.states.get('t')).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    expect(await get(r1!)).toMatchObject({ status: 200, site: 'b1' });
  });
});
