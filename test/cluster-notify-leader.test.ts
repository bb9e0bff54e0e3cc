/**
 * Clustered mode: `leader_changed` reaches a real webhook receiver. The first leader tells that
 * it leads; when it is killed, the replica that takes over tells that it leads now, naming the
 * leader before it (docs/notifications.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { useClusterTest } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';

interface Batch {
  events: Array<{ kind: string; summary: string; severity: string; details: { replica: string; leading: boolean; previous: string | null } }>;
}

let rx: Receiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

describe.skipIf(!ETCD_INSTALLED)('clustered: leader_changed notifications', () => {
  const test = useClusterTest();

  it('the new leader tells a webhook that it leads, with the previous leader, once the leader is killed', async () => {
    rx = await startReceiver();
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 2,
      defaults: { health_check: FAST_CHECKS },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
      config: { notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['leader_changed'], coalesce: '50ms' }] },
      env: () => ({ TEST_NOTIFY_URL: rx!.url, TEST_NOTIFY_SECRET: 'leader-secret' }),
    });
    const events = () => rx!.accepted().flatMap((b) => (b as Batch).events);
    const [r0, r1] = cluster.replicas;
    expect(await cluster.leader()).toBe(r0);
    await waitFor(() => events().some((e) => e.details.replica === 'r0' && e.details.leading), { what: 'r0 tells that it leads' });

    await r0!.child.kill('SIGKILL');
    await waitFor(async () => (await cluster.leader()) === r1, { what: 'r1 leads', timeout: 15_000 });
    await waitFor(() => events().some((e) => e.details.replica === 'r1'), { what: 'r1 tells that it leads', timeout: 10_000 });
    const told = events().filter((e) => e.details.replica === 'r1');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ kind: 'leader_changed', severity: 'info', details: { leading: true, previous: 'r0' } });
    expect(told[0]!.summary).toBe('replica r1 now leads the cluster (previous leader: r0)');
    // One change, one event: the follower did not tell of r0's leadership.
    expect(events().filter((e) => e.details.leading && e.details.replica === 'r0')).toHaveLength(1);
  }, 60_000);
});
