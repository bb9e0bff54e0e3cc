/**
 * Issue 19 (clustered mode): drill reports stored in etcd (EtcdDrillStore), on real etcd. One
 * key per report, listed newest first with a tenant filter and a limit, `running()` for the
 * recovery of a new leader; writes guarded by the leader's guard (a replica that lost its
 * leadership cannot overwrite a report: DRP_NOT_LEADER), and an ended report keeps its outcome
 * (DRP_STATE_CONFLICT); an etcd outage is a typed error
 * within the deadline, never a crash.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { EtcdClient, type Compare } from '../src/cluster/etcd.js';
import { EtcdDrillStore } from '../src/cluster/drill-store.js';
import { DRILL_CONTROLS, type DrillReport, type DrillStatus } from '../src/drill/types.js';
import { DrProxyError } from '../src/errors.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { startRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const TIMEOUT = 500;

function report(id: string, tenant: string, started: string, status: DrillStatus = 'running'): DrillReport {
  return {
    kind: 'drproxy.drill',
    version: 1,
    id,
    tenant,
    tier: { name: 'gold', rpo_seconds: 60, rto_seconds: 30 },
    actor: 'ops',
    reason: 'quarterly drill',
    trigger: 'operator',
    runner: 'r0',
    requested: { dwell_ms: 1000, failback: true },
    status,
    started_at: started,
    from: 'a',
    to: 'b',
    steps: [],
    rto_ms: 30_000,
    epochs: { before: 1 },
    reasons: [],
    audit: { records: [] },
    controls: DRILL_CONTROLS,
  };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (err) {
    return { code: (err as DrProxyError).code, ms: performance.now() - t0 };
  }
  throw new Error('expected the call to fail');
}

describe.skipIf(!ETCD_INSTALLED)('drill reports in etcd', () => {
  const s = useEtcd(1, TIMEOUT);
  const prefix = (): string => `/drills-test-${randomBytes(4).toString('hex')}`;

  it('stores one key per report, lists newest first (tenant filter, limit) and finds the running ones', async () => {
    const p = prefix();
    const store = new EtcdDrillStore({ client: s.direct, prefix: p });
    await store.put(report('drill-20260101T000000Z-t1-aaaaaa', 't1', '2026-01-01T00:00:00.000Z', 'passed'));
    await store.put(report('drill-20260102T000000Z-t2-bbbbbb', 't2', '2026-01-02T00:00:00.000Z'));
    await store.put(report('drill-20260103T000000Z-t1-cccccc', 't1', '2026-01-03T00:00:00.000Z'));
    const done = { ...report('drill-20260103T000000Z-t1-cccccc', 't1', '2026-01-03T00:00:00.000Z', 'passed'), ended_at: '2026-01-03T00:01:00.000Z', measured_rto_ms: 812 };
    await store.put(done);

    expect((await s.direct.get(`${p}/drills/drill-20260103T000000Z-t1-cccccc`)).kv?.value).toBe(JSON.stringify(done));
    expect(await store.get('drill-20260103T000000Z-t1-cccccc')).toEqual(done);
    expect(await store.get('drill-nope')).toBeUndefined();
    expect(await store.get('../tenants/t1')).toBeUndefined();

    const all = await store.list();
    expect(all.map((e) => e.id)).toEqual(['drill-20260103T000000Z-t1-cccccc', 'drill-20260102T000000Z-t2-bbbbbb', 'drill-20260101T000000Z-t1-aaaaaa']);
    expect(all[0]).toEqual({ id: done.id, kind: 'drproxy.drill', tenant: 't1', status: 'passed', started_at: done.started_at, ended_at: done.ended_at, measured_rto_ms: 812 });
    expect((await store.list({ tenant: 't1' })).map((e) => e.id)).toEqual(['drill-20260103T000000Z-t1-cccccc', 'drill-20260101T000000Z-t1-aaaaaa']);
    expect((await store.list({ limit: 1 })).map((e) => e.id)).toEqual(['drill-20260103T000000Z-t1-cccccc']);
    expect((await store.running()).map((r) => r.id)).toEqual(['drill-20260102T000000Z-t2-bbbbbb']);

    // Another replica's store sees the same reports.
    const other = new EtcdDrillStore({ client: s.direct, prefix: p });
    expect(await other.list()).toEqual(all);
  });

  it('refuses a write when this replica no longer leads, and never replaces a report another replica changed', async () => {
    const p = prefix();
    const leaderKey = `${p}/leader`;
    const { revision: token } = await s.direct.txn([], [{ put: leaderKey, value: 'r0' }]);
    let leading = true;
    const guard = (): Compare[] => {
      if (!leading) throw new DrProxyError('DRP_NOT_LEADER', 'r0 is not the leader');
      return [{ key: leaderKey, target: 'create', value: token }];
    };
    const old = new EtcdDrillStore({ client: s.direct, prefix: p, guard });
    const id = 'drill-20260104T000000Z-t1-dddddd';
    await old.put(report(id, 't1', '2026-01-04T00:00:00.000Z'));

    // The leader key is replaced (the old leader's lease expired, r1 was elected) while r0 still believes it leads.
    await s.direct.txn([], [{ delete: leaderKey }]);
    await s.direct.txn([], [{ put: leaderKey, value: 'r1' }]);
    expect((await codeOf(old.put(report(id, 't1', '2026-01-04T00:00:00.000Z', 'passed')))).code).toBe('DRP_NOT_LEADER');
    leading = false;
    expect((await codeOf(old.put(report(id, 't1', '2026-01-04T00:00:00.000Z', 'passed')))).code).toBe('DRP_NOT_LEADER');

    // The new leader recovers it. The old runner, even leading again, cannot turn the ended report into a pass.
    const fresh = new EtcdDrillStore({ client: s.direct, prefix: p });
    const [found] = await fresh.running();
    expect(found?.id).toBe(id);
    const interrupted: DrillReport = { ...found!, status: 'interrupted', ended_at: '2026-01-04T00:00:05.000Z' } as DrillReport;
    await fresh.put(interrupted);
    const unguarded = new EtcdDrillStore({ client: s.direct, prefix: p });
    const conflict = await codeOf(unguarded.put(report(id, 't1', '2026-01-04T00:00:00.000Z', 'passed')));
    expect(conflict.code).toBe('DRP_STATE_CONFLICT');
    expect(await fresh.get(id)).toEqual(interrupted);
    expect((await fresh.list())[0]?.status).toBe('interrupted');
    // Rewritten with its own status (a signature added): allowed.
    await fresh.put({ ...interrupted, reasons: [{ code: 'leader_lost', message: 'the leader running it was lost' }] });
    expect(((await fresh.get(id)) as DrillReport).reasons).toHaveLength(1);
  });

  it('an etcd outage is a typed error within the deadline, and the store works again once etcd answers', async () => {
    const p = prefix();
    const relay = await startRelay(s.etcd.endpoints[0]!);
    const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: TIMEOUT, dialTimeout: 2000 });
    s.cleanup(() => relay.close(), () => client.close());
    const store = new EtcdDrillStore({ client, prefix: p });
    const r = report('drill-20260106T000000Z-t1-eeeeee', 't1', '2026-01-06T00:00:00.000Z');
    await store.put(r);

    relay.cut();
    for (const call of [store.put(r), store.get(r.id), store.list(), store.running()]) {
      const { code, ms } = await codeOf(call);
      expect(code).toMatch(/^DRP_ETCD_(UNAVAILABLE|TIMEOUT)$/);
      expect(ms).toBeLessThan(TIMEOUT * 3);
    }
    relay.restore();
    relay.blackhole();
    const held = await codeOf(store.list());
    expect(held.code).toBe('DRP_ETCD_TIMEOUT');
    expect(held.ms).toBeLessThan(TIMEOUT * 3);
    relay.restore();

    // No circuit breaker: the next call after the link heals answers (polled: gRPC reconnects on its own backoff).
    const listed = await waitFor(() => store.list(), { timeout: 5000, what: 'the store to answer again' });
    expect(listed.map((e) => e.id)).toEqual([r.id]);
  });
});
