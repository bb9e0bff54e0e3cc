/**
 * Issue 18 step 2: our own lease keeper on a real etcd. It keeps the lease with its own
 * keepalives, reports `lost` by its own monotonic deadline (last successful keepalive's send
 * time + TTL − margin) when the link is black-holed, well before etcd3's ~2×TTL, never reuses
 * a lost lease, and ignores wall-clock jumps.
 */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Etcd3 } from 'etcd3';
import { EtcdClient } from '../src/cluster/etcd.js';
import { LeaseKeeper } from '../src/cluster/lease.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { startRelay, type TcpRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const TTL = 2000;
const MARGIN = 400;

describe.skipIf(!ETCD_INSTALLED)('lease keeper (real etcd)', () => {
  const s = useEtcd(1);

  function keeperVia(url: string): { keeper: LeaseKeeper; client: EtcdClient } {
    const client = new EtcdClient({ endpoints: [url], requestTimeout: 600, dialTimeout: 2000 });
    const keeper = new LeaseKeeper({ client, ttl: TTL, margin: MARGIN });
    s.cleanup(() => client.close(), () => keeper.close());
    return { keeper, client };
  }

  it('keeps the lease alive for several TTLs with its own keepalives', async () => {
    const { keeper, client } = keeperVia(s.etcd.endpoints[0]!);
    const id = await keeper.start();
    await client.txn([], [{ put: '/t/keep', value: 'x', lease: id }]);
    let renewals = 0;
    keeper.on('renewed', () => renewals++);
    const lost: unknown[] = [];
    keeper.on('lost', (e) => lost.push(e));
    // Three TTLs: a lease not kept alive would have expired (and its key gone) twice over.
    await waitFor(() => renewals >= 9, { timeout: 3 * TTL + 2000, what: '9 keepalives' });
    expect(lost).toEqual([]);
    expect(keeper.isValid()).toBe(true);
    expect(keeper.id).toBe(id);
    expect((await s.direct.get('/t/keep')).kv?.lease).toBe(id);
  });

  it('reports lost by its own deadline when the link is black-holed, long before etcd3 does', async () => {
    const relay: TcpRelay = await startRelay(s.etcd.endpoints[0]!);
    s.cleanup(() => relay.close());
    const { keeper } = keeperVia(relay.url);
    const firstId = await keeper.start();
    // etcd3's own Lease on the same black-holed link, for comparison.
    const theirs = new Etcd3({ hosts: relay.url });
    s.cleanup(() => theirs.close());
    const theirLease = theirs.lease(TTL / 1000);
    let theirLostAt: number | undefined;
    theirLease.on('lost', () => (theirLostAt ??= performance.now()));
    await theirLease.grant();
    await once(keeper, 'renewed', { signal: AbortSignal.timeout(2 * TTL) }); // a keepalive through the relay

    let lastDeadline = keeper.deadline;
    keeper.on('renewed', (d) => (lastDeadline = d));
    relay.blackhole();
    const blackholedAt = performance.now();
    const [reason] = (await once(keeper, 'lost', { signal: AbortSignal.timeout(2 * TTL) })) as [{ code: string }];
    const lostAt = performance.now();
    const lastSuccessSent = lastDeadline - TTL + MARGIN;

    expect(reason.code).toBe('DRP_ETCD_LEASE_LOST');
    // Lost at our deadline (TTL − margin after the last keepalive that succeeded was sent)…
    expect(lostAt - lastSuccessSent).toBeGreaterThanOrEqual(TTL - MARGIN - 1);
    expect(lostAt - lastSuccessSent).toBeLessThan(TTL - MARGIN + 150);
    // …so before etcd itself can expire the lease (TTL), and far before etcd3 says so.
    expect(lostAt - blackholedAt).toBeLessThan(TTL);
    expect(theirLostAt).toBeUndefined();
    expect(keeper.isValid()).toBe(false);
    expect(keeper.id).toBeUndefined();

    // Healed: the lost lease is not revived by late answers; a new lease must be granted.
    let revived = false;
    keeper.on('renewed', () => (revived = true));
    relay.restore();
    const secondId = await waitFor(() => keeper.start(), { timeout: 5000, what: 'a new lease' });
    expect(secondId).not.toBe(firstId);
    expect(revived).toBe(true); // the new lease's grant, not the old one
    expect(keeper.id).toBe(secondId);
    theirLease.release();
  });

  it('is not moved by wall-clock jumps: its deadline is on the monotonic clock', async () => {
    const { keeper } = keeperVia(s.etcd.endpoints[0]!);
    await keeper.start();
    const lost: unknown[] = [];
    keeper.on('lost', (e) => lost.push(e));
    const realNow = Date.now.bind(Date);
    const renewals = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fewer than ${n} keepalives`)), n * TTL);
        let seen = 0;
        const on = (): void => {
          if (++seen < n) return;
          keeper.off('renewed', on);
          clearTimeout(timer);
          resolve();
        };
        keeper.on('renewed', on);
      });
    try {
      for (const jump of [+10 * 60_000, -10 * 60_000]) {
        Date.now = () => realNow() + jump;
        await renewals(3);
        expect(keeper.isValid()).toBe(true);
        expect(keeper.deadline - performance.now()).toBeLessThanOrEqual(TTL - MARGIN);
      }
    } finally {
      Date.now = realNow;
    }
    expect(lost).toEqual([]);
  });

  it('follows only its injected monotonic clock: advanced past the deadline, it is lost at once', async () => {
    let offset = 0;
    const client = new EtcdClient({ endpoints: s.etcd.endpoints, requestTimeout: 600, dialTimeout: 2000 });
    const keeper = new LeaseKeeper({ client, ttl: TTL, margin: MARGIN, clock: () => performance.now() + offset });
    s.cleanup(() => client.close(), () => keeper.close());
    await keeper.start();
    expect(keeper.isValid()).toBe(true);
    offset = TTL; // the keeper's clock passes its deadline; the wall clock and etcd are unchanged
    expect(keeper.isValid()).toBe(false);
    expect(keeper.id).toBeUndefined();
    const [reason] = (await once(keeper, 'lost', { signal: AbortSignal.timeout(TTL) })) as [{ code: string }];
    expect(reason.code).toBe('DRP_ETCD_LEASE_LOST');
  });
});
