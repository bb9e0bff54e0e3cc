/**
 * site_unready in clustered mode: every replica watches its standby sites, but only the one that
 * decides (the leader) tells it, so three replicas page once, not three times. Each replica's
 * sink posts to its own path of one real receiver, so the test sees who sent what.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { useClusterTest } from './helpers/cluster.js';
import { sitesUp } from './helpers/cluster-admin.js';
import { FAST_CHECKS } from './helpers/proxy.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import type { NotifyEvent } from '../src/notify/events.js';

let rx: Receiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

describe.skipIf(!ETCD_INSTALLED)('clustered: site_unready', () => {
  const test = useClusterTest();

  it('only the leader tells a standby unready, and resolves it', async () => {
    rx = await startReceiver();
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { mode: 'manual', unready_alert_after: '800ms' } },
      config: { notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['site_unready'], coalesce: '20ms' }] },
      env: (i) => ({ TEST_NOTIFY_URL: `${rx!.url}/r${i}`, TEST_NOTIFY_SECRET: 'k' }),
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1!.url] }, { name: 'b1', backends: [b1!.url] }] } },
    });
    const leader = await cluster.leader();
    for (const r of cluster.replicas) await sitesUp(cluster, r);
    const sent = () => rx!.received.flatMap((q) => (JSON.parse(q.body) as { events: NotifyEvent[] }).events.map((e) => ({ from: q.path.slice(1), severity: e.severity, site: e.site, key: e.dedup_key })));
    await b1!.kill();
    await waitFor(() => sent().some((e) => e.severity === 'warning'), { what: 'site_unready', timeout: 15_000 });
    await b1!.restart();
    // Every replica's hysteresis runs alike: by the resolve, a follower's trigger would be in too.
    await waitFor(() => sent().some((e) => e.severity === 'resolved'), { what: 'the resolve', timeout: 15_000 });
    expect(sent()).toEqual([
      { from: leader.id, severity: 'warning', site: 'b1', key: 'unready:t:b1' },
      { from: leader.id, severity: 'resolved', site: 'b1', key: 'unready:t:b1' },
    ]);
  }, 90_000);
});
