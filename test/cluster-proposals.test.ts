/**
 * Issue 18: an operator action sent to a follower is carried out by the leader through etcd
 * (src/cluster/proposals.ts): answered with the leader's result or its typed error; carried out
 * once only, even when the leader changes half-way; a timeout when no leader answers.
 */
import { describe, expect, it } from 'vitest';
import { EtcdClient } from '../src/cluster/etcd.js';
import { ForwardedError, Proposals, type Proposal } from '../src/cluster/proposals.js';
import { DrProxyError } from '../src/errors.js';
import { ETCD_INSTALLED, useEtcd } from './helpers/etcd.js';
import { waitFor } from './helpers/poll.js';

describe.skipIf(!ETCD_INSTALLED)('operator actions proposed through etcd (real etcd)', () => {
  const s = useEtcd(1);
  let n = 0;

  async function replica(prefix: string, id: string, leader: { is: boolean }, handler: (p: Proposal) => Promise<unknown>, timeoutMs = 5000) {
    const client = new EtcdClient({ endpoints: s.etcd.endpoints, requestTimeout: 1000, dialTimeout: 2000 });
    const lease = await client.grantLease(10);
    const { revision } = await client.getPrefix(`${prefix}/`);
    const p = new Proposals({
      client,
      prefix,
      replicaId: id,
      lease: () => lease,
      guard: () => {
        if (!leader.is) throw new DrProxyError('DRP_CONFLICT', 'not leader');
        return [];
      },
      timeoutMs,
    });
    p.start(revision + 1, handler);
    if (leader.is) await p.leading(true);
    s.cleanup(() => client.close(), () => p.close());
    return p;
  }

  it('a follower gets the leader\'s result, or its typed error', async () => {
    const prefix = `/prop${++n}`;
    const ran: Proposal[] = [];
    await replica(prefix, 'r0', { is: true }, async (p) => {
      ran.push(p);
      if (p.action === 'fence') throw new DrProxyError('DRP_CONFLICT', `site ${String(p.op.site)} is active: fail over first`);
      return { epoch: 2, to: p.op.to };
    });
    const follower = await replica(prefix, 'r1', { is: false }, async () => {
      throw new Error('a follower never carries out a proposal');
    });
    expect(await follower.propose('t', 'failover', { to: 'b1', reason: 'test', actor: 'ops' })).toEqual({ epoch: 2, to: 'b1' });
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ tenant: 't', action: 'failover', replica: 'r1', op: { to: 'b1', actor: 'ops' } });
    const err = await follower.propose('t', 'fence', { site: 'a1', reason: 'x', actor: 'ops' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrProxyError);
    expect((err as DrProxyError).code).toBe('DRP_CONFLICT');
    expect((err as DrProxyError).message).toContain('site a1 is active');
  });

  it("a refusal's own fields (a refused drill's reasons) reach the follower with its code", async () => {
    const prefix = `/prop${++n}`;
    class Refused extends DrProxyError {
      constructor(readonly reasons: Array<{ code: string; message: string }>, readonly id: string) {
        super('DRP_CONFLICT', 'drill of t refused: site b1 is not ready');
      }
    }
    await replica(prefix, 'r0', { is: true }, async () => {
      throw new Refused([{ code: 'not_ready', message: 'site b1 is not ready' }], 'drill-x');
    });
    const follower = await replica(prefix, 'r1', { is: false }, async () => undefined);
    const err = await follower.propose('t', 'drill', { to: 'b1', reason: 'r', actor: 'ops' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForwardedError);
    expect(err).toMatchObject({ code: 'DRP_CONFLICT', message: 'drill of t refused: site b1 is not ready', details: { reasons: [{ code: 'not_ready', message: 'site b1 is not ready' }], id: 'drill-x' } });
  });

  it('is carried out once: a new leader does not run a proposal its predecessor claimed', async () => {
    const prefix = `/prop${++n}`;
    const old = { is: true };
    let release!: () => void;
    const oldRan: string[] = [];
    const oldLeader = await replica(prefix, 'r0', old, (p) => {
      oldRan.push(p.id);
      // The old leader hangs inside the action (then is gone): it never answers.
      return new Promise((done) => (release = () => done('late')));
    });
    const newRan: string[] = [];
    const next = { is: false };
    const newLeader = await replica(prefix, 'r1', next, async (p) => void newRan.push(p.id));
    const follower = await replica(prefix, 'r2', { is: false }, async () => undefined);
    const answer = follower.propose('t', 'failover', { to: 'b1', reason: 'r', actor: 'ops' }).catch((e: unknown) => e);
    await waitFor(() => oldRan.length === 1, { what: 'the old leader started the action' });
    // Leadership moves while the action runs.
    old.is = false;
    await oldLeader.leading(false);
    next.is = true;
    await newLeader.leading(true);
    const err = await answer;
    expect((err as DrProxyError).code).toBe('DRP_LEADER_CHANGED');
    expect(newRan).toEqual([]);
    release();
  });

  it('times out with a clear error when no leader answers', async () => {
    const prefix = `/prop${++n}`;
    const follower = await replica(prefix, 'r1', { is: false }, async () => undefined, 300);
    const err = await follower.propose('t', 'unfence', { site: 'a1', reason: 'r', actor: 'ops' }).catch((e: unknown) => e);
    expect((err as DrProxyError).code).toBe('DRP_ETCD_TIMEOUT');
    expect((err as DrProxyError).message).toMatch(/did not answer within 300 ms/);
  });
});
