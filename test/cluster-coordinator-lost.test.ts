/**
 * Losing the coordinator (issue 18, "Losing etcd"; coordinator_loss: fail_closed): once a
 * replica's coordinator reports serving() false, its data plane answers 503 with
 * x-drproxy-error DRP_COORDINATOR_LOST and a body that says why, and its /readyz goes red; the
 * other replica serves on and its leader flips without it (its lease expired). When the
 * coordinator is back, the replica re-applies the committed state (the flip it missed) and
 * serves again, on the new site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { get, startReplicas, type Replica, type ReplicaSet } from './helpers/replicas.js';
import { waitFor } from './helpers/poll.js';

let set: ReplicaSet;

beforeAll(async () => {
  set = await startReplicas(2, { mode: 'manual' });
});

afterAll(async () => {
  await set?.stop();
});

async function readyz(r: Replica): Promise<{ status: number; body: string }> {
  const res = await request(`${r.p.adminUrl}/readyz`);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('a replica that lost its coordinator', () => {
  it('answers 503 DRP_COORDINATOR_LOST with readiness red, and serves the committed state once back', async () => {
    const [r1, r2] = set.replicas;
    const { shared } = set;
    expect(await get(r2!)).toMatchObject({ status: 200, site: 'a1' });
    expect((await readyz(r2!)).status).toBe(200);

    r2!.coordinator.setServing(false);
    shared.remove('r2'); // its lease expired: the leader no longer waits for it
    const refused = await get(r2!);
    expect(refused).toMatchObject({ status: 503, error: 'DRP_COORDINATOR_LOST' });
    expect(refused.body).toMatch(/^503 Service Unavailable: tenant t: this replica lost its coordinator \(etcd\) for longer than its lease/);
    const red = await readyz(r2!);
    expect(red.status).toBe(503);
    expect(red.body).toMatch(/coordinator lost/);
    expect((await set.a1.stats()).byPath['/']).toBe(1); // only the request before the loss
    // The other replica is not affected.
    expect(await get(r1!)).toMatchObject({ status: 200, site: 'a1' });
    expect((await readyz(r1!)).status).toBe(200);

    // The leader flips without the lost replica, which sees nothing of it.
    const record = await r1!.p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'test', actor: 'test' });
    expect(record).toMatchObject({ epoch: 2, result: 'routed' });
    expect(await get(r2!)).toMatchObject({ status: 503, error: 'DRP_COORDINATOR_LOST' });

    r2!.coordinator.setServing(true);
    await waitFor(() => r2!.p.proxy.tenant('t')!.slot.route.mode === 'serve', { what: 'r2 serving again' });
    expect(r2!.p.proxy.tenant('t')!.state).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
    expect(await get(r2!)).toMatchObject({ status: 200, site: 'b1' });
    expect((await readyz(r2!)).status).toBe(200);
    expect(shared.ackOf('r2', 't')).toEqual({ epoch: 2, stage: 'routed' });
  });
});
