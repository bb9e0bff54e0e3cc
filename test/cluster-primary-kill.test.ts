/**
 * Split-brain scenario 11: under 1,000 req/s spread over three replicas, the primary is killed:
 * 0 failed requests, and every replica routes to the backup, all at the same new epoch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { useClusterTest } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { failures, startLoad, type Load } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: the primary killed under load', () => {
  const test = useClusterTest();
  let loads: Load[] = [];
  afterEach(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    loads = [];
  });

  it('0 failed requests over three replicas, every replica on the backup at one epoch', async () => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: FAST_CHECKS, failover: { drain_timeout: '2s', hold_requests: '10s' } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
    });
    await cluster.leader();
    loads = cluster.replicas.map((r) => startLoad({ url: r.child.url, host: 't.example.com', rate: 333, maxMs: 20_000 }));
    // Steady traffic through every replica first.
    await waitFor(() => loads.every((l) => l.samples.filter((s) => s.site === 'a1').length >= 200), { what: 'traffic on a1 through every replica', timeout: 10_000 });
    await a1!.kill('SIGKILL');
    await waitFor(() => loads.every((l) => l.samples.slice(-50).length === 50 && l.samples.slice(-50).every((s) => s.site === 'b1')), { what: 'every replica on b1', timeout: 15_000 });
    const all = (await Promise.all(loads.map((l) => l.stop()))).flat();
    loads = [];
    expect(failures(all)).toEqual([]);
    const epochs = new Set(all.filter((s) => s.site === 'b1').map((s) => s.epoch));
    expect([...epochs]).toEqual(['2']);
  }, 60_000);
});
