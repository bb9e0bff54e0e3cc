/**
 * Two-person approval requests in etcd (EtcdApprovalStore), on real etcd, as two replicas
 * (two clients) use them: one key per request under its own lease; of two replicas approving
 * one request at the same moment exactly one gets it (the other 409 approval_decided); an
 * expired request is marked and reported once fleet-wide, and is 410 everywhere; a decision
 * keeps the key's lease (etcd still drops it after the retention); an etcd outage is a typed
 * error within the deadline that decides nothing.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { EtcdClient } from '../src/cluster/etcd.js';
import { EtcdApprovalStore } from '../src/cluster/approval-store.js';
import type { Approval, NewApproval } from '../src/admin/approvals.js';
import { HttpError } from '../src/admin/http-error.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { startRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const ASK: NewApproval = { action: 'failover', tenant: 't', site: 'b1', path: '/tenants/t/failover', params: ['t'], body: { to: 'b1', reason: 'CHG' }, reason: 'CHG', requested_by: 'ops' };

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error('expected an HttpError');
}

describe.skipIf(!ETCD_INSTALLED)('approval requests in etcd', () => {
  const s = useEtcd(1, 1000);

  /**
   * Two replicas' stores on one prefix, each with its own client, clock and expiry log. While
   * `racing.on`, each replica's read returns only once both replicas have read, so that both
   * decide on what they read before either writes (the interleaving a race needs; etcd is real).
   */
  function replicas(now: () => number = Date.now): { stores: EtcdApprovalStore[]; expired: string[][]; prefix: string; racing: { on: boolean } } {
    const prefix = `/approvals-test-${randomBytes(4).toString('hex')}`;
    const expired: string[][] = [[], []];
    const racing = { on: false };
    const waiting: Array<() => void> = [];
    const barrier = async <T>(read: Promise<T>): Promise<T> => {
      const r = await read;
      if (!racing.on) return r;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length < 2) return;
        // Once: the loser's second read (after its write was refused) goes through alone.
        racing.on = false;
        for (const f of waiting.splice(0)) f();
      });
      return r;
    };
    const stores = [0, 1].map((i) => {
      const c = new EtcdClient({ endpoints: s.etcd.endpoints, requestTimeout: 1000, dialTimeout: 2000 });
      s.cleanup(() => c.close());
      const client = { get: (k: string) => barrier(c.get(k)), getPrefix: (p: string) => barrier(c.getPrefix(p)), txn: c.txn.bind(c), grantLease: c.grantLease.bind(c) };
      return new EtcdApprovalStore({ client, prefix, now, onExpire: (a) => expired[i]!.push(a.id) });
    });
    return { stores, expired, prefix, racing };
  }

  it('stores one key per request, under a lease, seen by the other replica', async () => {
    const { stores, prefix } = replicas();
    const a = await stores[0]!.create(ASK, 60_000);
    const { kv } = await s.direct.get(`${prefix}/approvals/${a.id}`);
    expect(JSON.parse(kv!.value)).toMatchObject({ id: a.id, status: 'pending', requested_by: 'ops' });
    expect(kv!.lease).not.toBe('0');
    expect(await stores[1]!.list()).toEqual([a]);
    expect(await refusal(stores[1]!.check(a.id, 'ops', 'approved'))).toEqual({ status: 403, code: 'same_approver' });
    expect(await refusal(stores[1]!.check('no-such-id', 'ops2', 'approved'))).toEqual({ status: 404, code: 'not_found' });
    expect(await refusal(stores[1]!.check('../tenants/t', 'ops2', 'approved'))).toEqual({ status: 404, code: 'not_found' });
  });

  it('of two replicas approving at once, exactly one decides; the other is 409', async () => {
    const { stores, prefix, racing } = replicas();
    for (let round = 0; round < 3; round++) {
      const a = await stores[0]!.create(ASK, 60_000);
      racing.on = true;
      const results = await Promise.allSettled([stores[0]!.decide(a.id, 'ops2', 'approved', 'r0'), stores[1]!.decide(a.id, 'ops3', 'approved', 'r1')]);
      const won = results.filter((r): r is PromiseFulfilledResult<Approval> => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toMatchObject({ status: 409, code: 'approval_decided' });
      const { kv } = await s.direct.get(`${prefix}/approvals/${a.id}`);
      const stored = JSON.parse(kv!.value) as Approval;
      expect(stored).toMatchObject({ status: 'approved', decided_by: won[0]!.value.decided_by });
      // The decision kept the lease: etcd still drops the key after its retention.
      expect(kv!.lease).not.toBe('0');
      const winner = stores[won[0]!.value.decided_by === 'ops2' ? 0 : 1]!;
      await winner.setOutcome(won[0]!.value, { status: 200 });
      expect((await stores[0]!.list()).find((x) => x.id === a.id)).toMatchObject({ status: 'approved', outcome: { status: 200 } });
    }
  });

  it('an expired request is marked once fleet-wide (both replicas finding it so at once) and is 410 on every replica', async () => {
    let now = Date.now();
    const { stores, expired, racing } = replicas(() => now);
    const a = await stores[0]!.create(ASK, 1000);
    now += 1000;
    racing.on = true;
    const lists = await Promise.all([stores[0]!.list(), stores[1]!.list()]);
    for (const l of lists) expect(l).toEqual([expect.objectContaining({ id: a.id, status: 'expired' })]);
    expect([...expired[0]!, ...expired[1]!]).toEqual([a.id]);
    for (const st of stores) expect(await refusal(st.decide(a.id, 'ops2', 'approved', 'late'))).toEqual({ status: 410, code: 'approval_expired' });
    expect([...expired[0]!, ...expired[1]!]).toEqual([a.id]);
  });

  it('a reject is final on every replica', async () => {
    const { stores } = replicas();
    const a = await stores[0]!.create(ASK, 60_000);
    expect(await stores[1]!.decide(a.id, 'ops2', 'rejected', 'no')).toMatchObject({ status: 'rejected', decided_by: 'ops2' });
    expect(await refusal(stores[0]!.decide(a.id, 'ops3', 'approved', 'yes'))).toEqual({ status: 409, code: 'approval_decided' });
  });

  it('an etcd outage is a typed error within the deadline and decides nothing; the request is decidable once etcd answers', async () => {
    const relay = await startRelay(s.etcd.endpoints[0]!);
    const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: 500, dialTimeout: 2000 });
    s.cleanup(() => relay.close(), () => client.close());
    const store = new EtcdApprovalStore({ client, prefix: `/approvals-test-${randomBytes(4).toString('hex')}` });
    const a = await store.create(ASK, 60_000);
    relay.blackhole();
    for (const call of [store.list(), store.check(a.id, 'ops2', 'approved'), store.decide(a.id, 'ops2', 'approved', 'while etcd is away'), store.create(ASK, 60_000)]) {
      const t0 = performance.now();
      await expect(call).rejects.toMatchObject({ code: expect.stringMatching(/^DRP_ETCD_(UNAVAILABLE|TIMEOUT)$/) });
      expect(performance.now() - t0).toBeLessThan(1500);
    }
    relay.restore();
    const listed = await waitFor(() => store.list(), { timeout: 5000, what: 'the store to answer again' });
    expect(listed).toEqual([expect.objectContaining({ id: a.id, status: 'pending' })]);
    expect(await store.decide(a.id, 'ops2', 'approved', 'etcd is back')).toMatchObject({ status: 'approved' });
  });
});
