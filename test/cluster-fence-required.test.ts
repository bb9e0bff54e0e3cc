/**
 * Split-brain scenario 9: a required fence hook fails while the old site is healthy. An
 * operator failover to b1 (sent to a follower, carried out by the leader, without `force`) gets
 * to the fence step; the hook answers 500 and a1 still answers its health checks, so the flip
 * freezes: the tenant is frozen on every replica (503 from each, /status phase frozen, cause
 * fence_failed, at the flip's epoch), and neither site gets a proxied request after that.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import type { Replica } from './helpers/cluster.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';
import { post, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: a required fence hook fails while the old site is healthy', () => {
  const start = useTwoSiteCluster();
  let hooks: HookServer | undefined;
  afterEach(async () => {
    await hooks?.close();
    hooks = undefined;
  });

  it('the tenant is frozen on every replica', async () => {
    const hs = (hooks = await startHookServer(500));
    const { cluster, leader, a1, b1 } = await start(3, (a, b) => ({
      tier: 'BC',
      hosts: ['t.example.com'],
      sites: [
        { name: 'a1', backends: [a.url], fence: { url: `${hs.url}/fence`, required: true, timeout: '1s' } },
        { name: 'b1', backends: [b.url] },
      ],
    }));
    const follower = cluster.replicas.find((r) => r !== leader)!;

    const fo = await post(follower, '/tenants/t/failover', { to: 'b1', reason: 'drill with a broken fence' });
    expect(fo.status).toBe(200);
    expect(fo.body).toMatchObject({ epoch: 2, from: 'a1', to: 'b1', result: 'frozen', fence: { ok: false, status: 500 } });
    // The leader alone called the hook, once, for epoch 2.
    expect(hs.calls.map((c) => [c.path, c.body.epoch, c.body.site])).toEqual([['/fence', 2, 'a1']]);

    const frozenOn = async (r: Replica): Promise<boolean> => {
      const t = await tenantOf(cluster, r);
      return t.phase === 'frozen' && t.frozen_cause === 'fence_failed' && t.epoch === 2;
    };
    for (const r of cluster.replicas) {
      await waitFor(() => frozenOn(r), { what: `${r.id} frozen (fence_failed) at epoch 2`, timeout: 10_000 });
      const res = await request(`${r.child.url}/`, { headers: { host: 't.example.com' } });
      expect(res.statusCode, r.id).toBe(503);
      expect(await res.body.text()).toMatch(/tenant t: tenant is frozen \(fence_failed\)/);
    }
    // a1 still healthy on every replica: frozen is not "down"; nothing reached b1, nothing reached a1 after epoch 1.
    for (const r of cluster.replicas) expect((await tenantOf(cluster, r)).active).toBe('a1');
    expect((await b1.stats()).epochs).toEqual([]);
    expect((await a1.stats()).epochs).toEqual(['1']);
    expect(hs.calls).toHaveLength(1);
  }, 60_000);
});
