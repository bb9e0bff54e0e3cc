/**
 * Issue 18 step 2: drproxy's own interface over etcd3, on real etcd. Reads with revisions,
 * guarded transactions, a prefix watch that resumes from a revision across a cut link; every
 * call bounded by its deadline with a typed error (cut: unavailable, black-holed: timeout, a
 * cluster without quorum: one of the two), and answers again as soon as the link heals (no
 * circuit breaker holding calls back).
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { EtcdClient, type WatchEvent } from '../src/cluster/etcd.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, startEtcd, useEtcd } from './helpers/etcd.js';
import { startRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const TIMEOUT = 500;

async function failure(p: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const start = performance.now();
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: string }).code, ms: performance.now() - start };
  }
  throw new Error('expected the call to fail');
}

describe.skipIf(!ETCD_INSTALLED)('etcd interface (real etcd)', () => {
  const s = useEtcd(1, TIMEOUT);

  it('reads with revisions and runs guarded transactions', async () => {
    const put = await s.direct.txn([{ key: '/kv/a', target: 'create', value: 0 }], [{ put: '/kv/a', value: 'one' }]);
    expect(put.succeeded).toBe(true);
    const { kv, revision } = await s.direct.get('/kv/a');
    expect(kv).toMatchObject({ key: '/kv/a', value: 'one', createRevision: put.revision, modRevision: put.revision, version: 1, lease: '0' });
    expect(revision).toBe(put.revision);
    // The same guard again: the key exists now, so the else branch runs.
    const again = await s.direct.txn([{ key: '/kv/a', target: 'create', value: 0 }], [{ put: '/kv/a', value: 'two' }], [{ put: '/kv/b', value: 'lost race' }]);
    expect(again).toEqual({ succeeded: false, revision: put.revision + 1 });
    expect((await s.direct.txn([{ key: '/kv/a', target: 'mod', value: put.revision }, { key: '/kv/a', target: 'value', value: 'one' }], [{ put: '/kv/a', value: 'three' }])).succeeded).toBe(true);
    expect((await s.direct.txn([{ key: '/kv/a', target: 'mod', value: put.revision }], [{ put: '/kv/a', value: 'stale' }])).succeeded).toBe(false);
    const all = await s.direct.getPrefix('/kv/');
    expect(all.kvs.map((k) => [k.key, k.value])).toEqual([['/kv/a', 'three'], ['/kv/b', 'lost race']]);
    await s.direct.txn([], [{ delete: '/kv/', prefix: true }]);
    expect((await s.direct.getPrefix('/kv/')).kvs).toEqual([]);
  });

  it('watches a prefix from a revision and resumes after a cut link without losing events', async () => {
    const first = await s.direct.txn([], [{ put: '/w/1', value: 'a' }]);
    await s.direct.txn([], [{ put: '/w/2', value: 'b' }]);
    await s.direct.txn([], [{ put: '/other', value: 'not watched' }]);
    const relay = await startRelay(s.etcd.endpoints[0]!);
    const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: TIMEOUT, dialTimeout: 2000 });
    s.cleanup(() => relay.close(), () => client.close());
    const seen: Array<[WatchEvent['type'], string, string]> = [];
    let disconnects = 0;
    const watch = client.watchPrefix('/w/', first.revision + 1, {
      onEvents: (events) => events.forEach((e) => seen.push([e.type, e.kv.key, e.kv.value])),
      onDisconnected: () => disconnects++,
    });
    s.cleanup(() => watch.cancel());
    await waitFor(() => seen.length === 1, { what: 'the history after the start revision' });
    expect(seen).toEqual([['put', '/w/2', 'b']]);

    relay.cut();
    await waitFor(() => disconnects > 0, { what: 'the watch to notice the cut' });
    await s.direct.txn([], [{ put: '/w/3', value: 'c' }]);
    await s.direct.txn([], [{ delete: '/w/1' }]);
    relay.restore();
    await waitFor(() => seen.length === 3, { what: 'events written during the cut' });
    expect(seen.slice(1)).toEqual([['put', '/w/3', 'c'], ['delete', '/w/1', '']]);
  });

  it('bounds every call by its deadline with a typed error, and answers at once when the link heals', async () => {
    const relay = await startRelay(s.etcd.endpoints[0]!);
    const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: TIMEOUT, dialTimeout: TIMEOUT });
    s.cleanup(() => relay.close(), () => client.close());
    await client.get('/x');

    relay.blackhole();
    for (let i = 0; i < 4; i++) {
      const f = await failure(client.get('/x'));
      expect(f.code).toBe('DRP_ETCD_TIMEOUT');
      expect(f.ms).toBeLessThan(TIMEOUT + 200);
    }
    relay.cut();
    for (let i = 0; i < 4; i++) {
      const f = await failure(client.txn([], [{ put: '/x', value: 'y' }]));
      expect(['DRP_ETCD_UNAVAILABLE', 'DRP_ETCD_TIMEOUT']).toContain(f.code);
      expect(f.ms).toBeLessThan(TIMEOUT + 200);
    }
    expect((await failure(client.grantLease(2))).code).toMatch(/^DRP_ETCD_(UNAVAILABLE|TIMEOUT)$/);
    // Eight failures in a row would open etcd3's default circuit breaker for 5 s.
    relay.restore();
    const healedAt = performance.now();
    await waitFor(() => client.get('/x'), { timeout: 3000, interval: 50, what: 'a read after healing' });
    expect(performance.now() - healedAt).toBeLessThan(1500);
  });

  it('survives a 3-member cluster losing quorum, and works again when quorum returns', async () => {
    const three = await startEtcd(3);
    s.cleanup(() => three.stop());
    const client = new EtcdClient({ endpoints: three.endpoints, requestTimeout: TIMEOUT, dialTimeout: 2000 });
    s.cleanup(() => client.close());
    expect((await client.txn([], [{ put: '/q', value: '1' }])).succeeded).toBe(true);
    await three.stopMember(1);
    await three.stopMember(2);
    for (let i = 0; i < 3; i++) {
      const f = await failure(client.txn([], [{ put: '/q', value: '2' }]));
      expect(['DRP_ETCD_UNAVAILABLE', 'DRP_ETCD_TIMEOUT']).toContain(f.code);
      expect(f.ms).toBeLessThan(TIMEOUT + 200);
    }
    await Promise.all([three.startMember(1), three.startMember(2)]);
    await waitFor(() => client.txn([], [{ put: '/q', value: '3' }]), { timeout: 10_000, what: 'a write with quorum back' });
    expect((await client.get('/q')).kv?.value).toBe('3');
  });
});
