/**
 * The leader calls no hook before every replica has drained (cluster-protocol.md, steps 2-5):
 * with three replicas, the slowest follower's drain (a write in flight on a1 through its own
 * proxy port) holds the fence hook back until that follower acknowledges `drained`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGatedHook, startReplicas, type GatedHook, type ReplicaSet } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

let set: ReplicaSet;
let fence: GatedHook;

beforeAll(async () => {
  fence = await startGatedHook();
  fence.open();
  set = await startReplicas(3, { mode: 'manual', drain_timeout: '5s', hold_requests: '20s' }, { a1: { fence: { url: `${fence.url}/fence`, timeout: '5s' } } });
});

afterAll(async () => {
  await set?.stop();
  await fence?.close();
});

describe('the fence hook waits for every replica', () => {
  it('is called only after the last replica acknowledged drained', async () => {
    const [leader, , slowest] = set.replicas;
    const { shared } = set;
    const slow = request(`${slowest!.p.url}/slow?ms=700`, { method: 'POST', body: 'x', headers: { host: 't.example.com' } }).then((r) => r.body.text().then(() => r.statusCode));
    await waitFor(async () => (await set.a1.stats()).byPath['/slow'] === 1, { what: 'the write in flight on a1' });

    const record = await leader!.p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' });
    expect(record).toMatchObject({ epoch: 2, result: 'routed' });
    expect(await slow).toBe(200);

    const drained = (id: string) => shared.acks.find((a) => a.replica === id && a.epoch === 2 && a.stage === 'drained');
    expect(['r1', 'r2', 'r3'].map((id) => drained(id) !== undefined)).toEqual([true, true, true]);
    expect(fence.calls).toHaveLength(1);
    expect(fence.calls[0]!.body).toMatchObject({ action: 'fence', site: 'a1', epoch: 2 });
    // r3 drained last (its write took 700 ms); the fence came after it, not after the others only.
    expect(drained('r3')!.at).toBeGreaterThanOrEqual(drained('r2')!.at);
    expect(fence.calls[0]!.at).toBeGreaterThanOrEqual(drained('r3')!.at);
    await waitFor(() => set.replicas.every((r) => r.p.proxy.tenant('t')!.slot.route.site === 'b1'), { what: 'every replica routing b1' });
  });
});
