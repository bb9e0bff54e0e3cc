/**
 * A replica that stopped leading freezes nothing (cluster-protocol.md; issue 18 scenario 3): its
 * required fence hook fails after leadership passed to another replica; where a leader would
 * freeze the tenant, it stops the flip (DRP_NOT_LEADER) and never publishes an unavailable route.
 * The new leader, whose fence hook succeeds, finishes the flip at the same epoch, and it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, startGatedHook, startReplicas, type GatedHook, type ReplicaSet } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

let set: ReplicaSet;
let fence: GatedHook;

beforeAll(async () => {
  fence = await startGatedHook([500, 200]); // the old leader's call fails, the new leader's succeeds
  set = await startReplicas(2, { mode: 'manual', hold_requests: '20s' }, { a1: { fence: { url: `${fence.url}/fence`, required: true, timeout: '20s' } } });
});

afterAll(async () => {
  fence?.open();
  await set?.stop();
  await fence?.close();
});

describe('a required fence hook fails after leadership moved', () => {
  it('does not freeze the old leader, even locally; the new leader finishes the flip', async () => {
    const [r1] = set.replicas;
    const { shared } = set;
    const t1 = r1!.p.proxy.tenant('t')!;
    const modes: string[] = [];
    t1.slot.onPublish((r) => modes.push(`${r.mode} ${r.site} ${r.epoch}`));
    const flip = t1.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' }).then(
      () => 'finished',
      (err: unknown) => (err as { code?: string }).code,
    );
    await waitFor(() => fence.calls.length === 1, { what: "the old leader's fence hook" });
    shared.setLeader('r2');
    await waitFor(() => fence.calls.length === 2, { what: "the new leader's fence hook" });
    fence.open();

    expect(await flip).toBe('DRP_NOT_LEADER');
    await waitFor(() => t1.slot.route.site === 'b1' && t1.slot.route.mode === 'serve', { what: 'the old leader following to b1' });
    expect(modes).not.toContainEqual(expect.stringMatching(/^unavailable/));
    expect(shared.commits.filter((c) => c.state.phase === 'frozen')).toEqual([]);
    expect(r1!.p.logs.filter((l) => l.event === 'frozen')).toEqual([]);
    expect(shared.states.get('t')).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    expect(await get(r1!)).toMatchObject({ status: 200, site: 'b1' });
  });
});
