/**
 * Issue 18 step 2 ("Batching"): commits of many tenants issued in one turn go into few etcd
 * transactions (≤ 128 operations each: etcd's default --max-txn-ops), and so do
 * acknowledgements; a failed multi-tenant transaction fails only the tenant whose guard failed.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { activeAt, codeOf, freshPrefix, leaderOf, startReplicas } from './helpers/etcd-coordinators.js';
import { waitFor } from './helpers/poll.js';
import { runCommits, type PendingCommit } from '../src/cluster/commit-batch.js';
import type { DrProxyError } from '../src/errors.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const names = (n: number, p = 't') => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(3, '0')}`);

describe.skipIf(!ETCD_INSTALLED)('etcd coordinator: batching (real etcd)', () => {
  const s = useEtcd(1);

  it('200 tenants committed in one turn take 2 transactions, and their acks 2 more', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    const leader = await leaderOf(rs);
    const c = leader.coordinator;
    const tenants = names(200);
    const before = { ...c.stats };
    await Promise.all(tenants.map((t) => c.commit(t, activeAt(1), undefined)));
    expect(c.stats.commitTxns - before.commitTxns).toBe(2); // 127 + 73 (one compare is the leader's)
    await Promise.all(tenants.map((t) => c.commit(t, activeAt(2, 'b'), 1)));
    expect(c.stats.commitTxns - before.commitTxns).toBe(4);
    expect((await s.direct.getPrefix(`${prefix}/tenants/`)).kvs.map((kv) => JSON.parse(kv.value).epoch)).toEqual(tenants.map(() => 2));

    // Every follower acknowledges every tenant, twice per tenant in the same turn (coalesced).
    const f = rs.find((r) => r !== leader)!.coordinator;
    await waitFor(async () => (await f.load(tenants[199]!))?.epoch === 2, { timeout: 3000, what: 'follower sees epoch 2' });
    for (const t of tenants) {
      f.acknowledge(t, 2, 'drained');
      f.acknowledge(t, 2, 'routed');
    }
    for (const t of tenants) c.acknowledge(t, 2, 'routed');
    const all = Promise.all(tenants.map((t) => c.acknowledged(t, 2, 'routed')));
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error('acks not seen within 5 s')), 5000).unref())]);
    expect(f.stats.ackTxns).toBe(2); // 128 + 72 puts
    expect(f.stats.acks).toBe(200);
    const acks = await s.direct.getPrefix(`${prefix}/acks/r`);
    expect(acks.kvs.length).toBe(400);
  });

  it('a failed batch fails only the tenant whose guard failed; the others are committed', async () => {
    const prefix = freshPrefix();
    const rs = await startReplicas(s, prefix, ['r1', 'r2']);
    const leader = await leaderOf(rs);
    const c = leader.coordinator;
    const tenants = names(50);
    await Promise.all(tenants.map((t) => c.commit(t, activeAt(1), undefined)));
    // Another writer changes t007 while the leader's link is held: the leader's cache is stale.
    leader.relay.blackhole();
    await s.direct.txn([], [{ put: `${prefix}/tenants/t007`, value: JSON.stringify({ tenant: 't007', ...activeAt(5, 'z'), updated_at: '' }) }]);
    const before = c.stats.commitTxns;
    const results = tenants.map((t) => c.commit(t, activeAt(2, 'b'), 1).then(() => 'ok', (e: { code: string }) => e.code));
    await new Promise((r) => setImmediate(r));
    leader.relay.restore();
    const codes = await Promise.all(results);
    expect(codes.filter((x) => x !== 'ok')).toEqual(['DRP_STATE_CONFLICT']);
    expect(codes[7]).toBe('DRP_STATE_CONFLICT');
    expect(c.stats.commitTxns - before).toBe(1 + 50); // the batch, then each tenant alone
    const stored = (await s.direct.getPrefix(`${prefix}/tenants/`)).kvs.map((kv) => JSON.parse(kv.value).epoch);
    expect(stored).toEqual(tenants.map((_, i) => (i === 7 ? 5 : 2)));
    expect(await codeOf(c.commit('t007', activeAt(2), 1))).toBe('DRP_STATE_CONFLICT');
  });
  it('a batch whose leader clause failed is refused as a whole after one read: no transaction per tenant', async () => {
    const prefix = freshPrefix();
    let txns = 0;
    let gets = 0;
    const client = { txn: (...a: Parameters<typeof s.direct.txn>) => s.direct.txn(...a), get: (k: string) => (gets++, s.direct.get(k)) };
    const errors: string[] = [];
    const items: PendingCommit[] = names(100).map((t) => ({
      tenant: t,
      key: `${prefix}/tenants/${t}`,
      value: '{}',
      compare: { key: `${prefix}/tenants/${t}`, target: 'create', value: 0 },
      resolve: () => errors.push('committed'),
      reject: (e: DrProxyError) => errors.push(e.code),
    }));
    // A term that ended: the leader key does not exist (create revision 0), the token says 7.
    await runCommits({ client, guard: () => [{ key: `${prefix}/leader`, target: 'create', value: 7 }], onTxn: () => txns++, onStale: () => {} }, items);
    expect(errors).toEqual(items.map(() => 'DRP_NOT_LEADER'));
    expect(txns).toBe(1);
    expect(gets).toBe(1);
    expect((await s.direct.getPrefix(`${prefix}/tenants/`)).kvs).toEqual([]);
  });
});
