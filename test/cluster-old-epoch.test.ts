/**
 * Split-brain scenarios 5 and 6: once any replica routes the new epoch, the old primary gets no
 * proxied request from any replica (counted at the upstream), and it still gets none when it is
 * healthy again, until an operator fails back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { useClusterTest, type Replica } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { startLoad, type Load } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';

async function siteOf(r: Replica): Promise<string | undefined> {
  const res = await request(`${r.child.url}/`, { headers: { host: 't.example.com' } });
  const text = await res.body.text();
  return res.statusCode === 200 ? (JSON.parse(text) as { site: string }).site : undefined;
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the old primary after a failover', () => {
  const test = useClusterTest();
  let loads: Load[] = [];
  afterEach(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    loads = [];
  });

  it('gets no request from any replica once the new epoch is routed, nor when it is healthy again', async () => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 3,
      defaults: { health_check: FAST_CHECKS, failover: { drain_timeout: '2s' } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
    });
    await cluster.leader();
    loads = cluster.replicas.map((r) => startLoad({ url: r.child.url, host: 't.example.com', rate: 100, maxMs: 30_000 }));
    await waitFor(() => loads.every((l) => l.samples.some((s) => s.site === 'a1')), { what: 'traffic on a1 through every replica' });
    // a1 fails its health checks but still answers traffic: only the flip can keep requests off it.
    await a1!.setHealth(503);
    await waitFor(() => loads.some((l) => l.samples.some((s) => s.epoch === '2')), { what: 'a first answer at epoch 2', timeout: 10_000 });
    const atNewEpoch = (await a1!.stats()).requests;
    await waitFor(() => loads.every((l) => l.samples.slice(-20).every((s) => s.site === 'b1')), { what: 'every replica on b1', timeout: 10_000 });
    expect((await a1!.stats()).requests).toBe(atNewEpoch);

    // a1 healthy again: fenced, it gets nothing (failback is manual).
    await a1!.setHealth(200);
    for (const r of cluster.replicas) {
      await waitFor(async () => {
        const s = (await cluster.status(r)) as { tenants: Array<{ sites: Array<{ name: string; available: boolean }> }> };
        return s.tenants[0]!.sites.find((x) => x.name === 'a1')!.available;
      }, { what: `${r.id} sees a1 healthy again` });
    }
    for (const r of cluster.replicas) for (let i = 0; i < 20; i++) expect(await siteOf(r)).toBe('b1');
    expect((await a1!.stats()).requests).toBe(atNewEpoch);
    for (const s of (await Promise.all(loads.map((l) => l.stop()))).flat()) expect(s.status).toBe(200);
    loads = [];
  }, 60_000);
});
