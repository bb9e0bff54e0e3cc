/**
 * Issue 18, "Health by quorum": health votes on a real etcd (src/cluster/health-votes.ts). Two
 * replicas in this process, each with its own client (one behind a TCP relay that the test cuts),
 * publish their views as `P/votes/<id>/<tenant>` under their leases: each sees the other's;
 * a peer's `down` vote for a site this replica has up fires peerDown once; a replica's votes
 * vanish when its lease is revoked, its writes wait (no retry loop) until a new lease is given,
 * and its views come back under that one; 300 tenants' changes in one
 * turn go in 3 transactions (etcd's revision counts them), an unchanged view in none; a watch
 * cancelled by compaction while cut off is read again.
 */
import { describe, expect, it } from 'vitest';
import { EtcdClient } from '../src/cluster/etcd.js';
import { HealthVotes } from '../src/cluster/health-votes.js';
import type { HealthVote, SiteVote } from '../src/failover/quorum-health.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, compactEtcd, useEtcd } from './helpers/etcd.js';
import { startRelay, type TcpRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

function vote(a: SiteVote, b: SiteVote = 'up', aStart = 0, epoch = 1): HealthVote {
  return { epoch, sites: { a, b }, detection: { a: aStart, b: 0 }, at: Date.now() };
}

interface Replica {
  id: string;
  votes: HealthVotes;
  lease: string;
  client: EtcdClient;
  relay: TcpRelay | undefined;
  peerDowns: Array<[string, string, string]>;
  changed: string[];
  errors: string[];
  errorCodes: string[];
}

describe.skipIf(!ETCD_INSTALLED)('health votes (real etcd)', () => {
  const s = useEtcd(1);
  let prefix = '';
  let n = 0;

  async function replica(id: string, { relay: relayed = false } = {}): Promise<Replica> {
    const relay = relayed ? await startRelay(s.etcd.endpoints[0]!) : undefined;
    const client = new EtcdClient({ endpoints: [relay?.url ?? s.etcd.endpoints[0]!], requestTimeout: 600, dialTimeout: 2000 });
    const lease = await client.grantLease(30);
    const votes = new HealthVotes({ client, prefix, replicaId: id, leaseId: lease, retryDelay: 50 });
    const r: Replica = { id, votes, lease, client, relay, peerDowns: [], changed: [], errors: [], errorCodes: [] };
    votes.on('peerDown', (...args) => r.peerDowns.push(args));
    votes.on('changed', (tenant) => r.changed.push(tenant));
    votes.on('etcd_error', (e) => {
      r.errors.push(e.message);
      r.errorCodes.push(e.code);
    });
    s.cleanup(
      () => relay?.close(),
      () => client.close(),
      () => s.direct.revokeLease(lease),
      () => votes.close(),
    );
    await votes.start();
    return r;
  }

  async function two(): Promise<[Replica, Replica]> {
    prefix = `/hv${++n}`;
    return [await replica('r1'), await replica('r2')];
  }

  const revision = async (): Promise<number> => (await s.direct.get('/none')).revision;

  it('lets two replicas see each other\u2019s votes, under their own leases, and not their own', async () => {
    const [r1, r2] = await two();
    const v1 = vote('up');
    const v2 = vote('down', 'up', 1234);
    r1.votes.publish('t1', v1);
    r2.votes.publish('t1', v2);
    await waitFor(() => r1.votes.votesFor('t1').size === 1 && r2.votes.votesFor('t1').size === 1, { what: 'each replica to see the other\u2019s vote' });
    expect([...r1.votes.votesFor('t1')]).toEqual([['r2', v2]]);
    expect([...r2.votes.votesFor('t1')]).toEqual([['r1', v1]]);
    expect(r1.changed).toContain('t1');
    const { kv } = await s.direct.get(`${prefix}/votes/r1/t1`);
    expect(kv?.lease).toBe(r1.lease);
    expect(JSON.parse(kv!.value)).toEqual(v1);
    expect(r1.votes.votesFor('other').size).toBe(0);
  });

  it('fires peerDown once when a peer votes down a site this replica has up', async () => {
    const [r1, r2] = await two();
    r1.votes.publish('t1', vote('up'));
    r2.votes.publish('t1', vote('up'));
    // r2 sees `b` down too, but so does r1: no out-of-schedule probe for it.
    r1.votes.publish('t2', vote('up', 'down'));
    await waitFor(() => r1.votes.votesFor('t1').size === 1, { what: 'r2\u2019s first vote' });
    r2.votes.publish('t1', vote('down', 'up', 5000));
    r2.votes.publish('t2', vote('up', 'down', 0));
    await waitFor(() => r1.peerDowns.length > 0, { what: 'peerDown' });
    expect(r1.peerDowns).toEqual([['t1', 'a', 'r2']]);
    // Still down, a new detection start: a changed vote, no new peerDown.
    r2.votes.publish('t1', vote('down', 'up', 6000));
    await waitFor(() => r1.votes.votesFor('t1').get('r2')?.detection.a === 6000, { what: 'the changed vote' });
    expect(r1.peerDowns).toEqual([['t1', 'a', 'r2']]);
    // r2 never saw r1 vote anything down.
    expect(r2.peerDowns).toEqual([]);
  });

  it('drops a replica\u2019s votes when its lease is revoked, and writes them again under a new lease', async () => {
    const [r1, r2] = await two();
    r1.votes.publish('t1', vote('up'));
    r1.votes.publish('t2', vote('down'));
    await waitFor(() => r2.votes.votesFor('t1').size === 1 && r2.votes.votesFor('t2').size === 1, { what: 'r1\u2019s votes' });
    r2.changed.length = 0;
    await s.direct.revokeLease(r1.lease);
    await waitFor(() => r2.votes.votesFor('t1').size === 0 && r2.votes.votesFor('t2').size === 0, { what: 'r1\u2019s votes to vanish' });
    expect(r2.changed.sort()).toEqual(['t1', 't2']);
    expect((await s.direct.getPrefix(`${prefix}/votes/r1/`)).kvs).toEqual([]);

    // A view changed meanwhile cannot be written under the dead lease: held for the next one.
    r1.votes.publish('t3', vote('up'));
    await waitFor(() => r1.errors.length > 0, { what: 'the write under the revoked lease to fail' });
    expect(r1.errorCodes).toEqual(['DRP_ETCD_LEASE_LOST']);
    expect(r1.votes.leaseId).toBeUndefined();

    const lease = await s.direct.grantLease(30);
    s.cleanup(() => s.direct.revokeLease(lease));
    r1.votes.useLease(lease);
    await waitFor(() => ['t1', 't2', 't3'].every((t) => r2.votes.votesFor(t).size === 1), { what: 'r1\u2019s votes under its new lease' });
    // One failed write, then one for all three: no retries against the dead lease.
    expect(r1.votes.transactions).toBe(3);
    expect(r1.errorCodes).toEqual(['DRP_ETCD_LEASE_LOST']);
    expect((await s.direct.get(`${prefix}/votes/r1/t2`)).kv?.lease).toBe(lease);
  });

  it('writes 300 tenants\u2019 changes of one turn in 3 transactions, and an unchanged view in none', async () => {
    const [r1, r2] = await two();
    const tenants = Array.from({ length: 300 }, (_, i) => `t${i}`);
    const before = await revision();
    for (const t of tenants) r1.votes.publish(t, vote('up'));
    await waitFor(() => tenants.every((t) => r2.votes.votesFor(t).size === 1), { what: '300 votes at r2' });
    // Every write transaction makes one etcd revision.
    expect((await revision()) - before).toBe(3);
    expect(r1.votes.transactions).toBe(3);

    // The region fails: every tenant's view changes in one turn, some twice (coalesced).
    for (const t of tenants) r1.votes.publish(t, vote('down', 'up', 7000));
    for (const t of tenants.slice(0, 50)) r1.votes.publish(t, vote('down', 'up', 7001));
    // Same view, a new epoch and time: not a change.
    for (const t of tenants.slice(200)) r1.votes.publish(t, vote('down', 'up', 7000, 2));
    await waitFor(() => tenants.every((t) => r2.votes.votesFor(t).get('r1')?.sites.a === 'down'), { what: '300 down votes at r2' });
    expect(r2.votes.votesFor('t0').get('r1')?.detection.a).toBe(7001);
    expect((await revision()) - before).toBe(6);
    expect(r1.votes.transactions).toBe(6);

    for (const t of tenants) r1.votes.publish(t, vote('down', 'up', tenants.indexOf(t) < 50 ? 7001 : 7000));
    r1.votes.publish('t299', vote('up'));
    await waitFor(() => r2.votes.votesFor('t299').get('r1')?.sites.a === 'up', { what: 't299 back up' });
    expect((await revision()) - before).toBe(7);
  });

  it('reads every vote again when its watch was compacted away while it was cut off', async () => {
    prefix = `/hv${++n}`;
    const r1 = await replica('r1');
    const r2 = await replica('r2', { relay: true });
    r1.votes.publish('t1', vote('up'));
    r1.votes.publish('t2', vote('up'));
    await waitFor(() => r2.votes.votesFor('t2').size === 1, { what: 'r1\u2019s votes' });
    r2.relay!.cut();
    // Two revisions while r2 is away, then compacted: r2's watch resumes before the compaction.
    r1.votes.publish('t1', vote('down', 'up', 42));
    await waitFor(async () => (await s.direct.get(`${prefix}/votes/r1/t1`)).kv?.value.includes('down'), { what: 'r1\u2019s first write' });
    r1.votes.withdraw('t2');
    await waitFor(async () => (await s.direct.getPrefix(`${prefix}/votes/r1/`)).kvs.length === 1, { what: 'r1\u2019s second write' });
    await compactEtcd(s.etcd.endpoints[0]!, await revision());
    r2.relay!.restore();
    await waitFor(() => r2.votes.votesFor('t1').get('r1')?.sites.a === 'down' && r2.votes.votesFor('t2').size === 0, { what: 'r2 to read the votes again' });
    expect(r2.errors.join('\n')).toMatch(/Watcher canceled/);
    expect(r2.peerDowns).toEqual([]);
  });
});
