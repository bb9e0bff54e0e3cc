/**
 * A follower forwards a failover to the leader; the leader refuses it by a per-flip rule
 * (min_available_sites: the old primary counts as unable once traffic leaves it). The follower
 * answers 409 safety_rule as the leader would: with the rules broken and how to override, not
 * only the message.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { twoSiteTenant } from './helpers/proxy.js';
import { post, tenantOf, useTwoSiteCluster } from './helpers/cluster-admin.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: a safety-rule refusal through a follower', () => {
  const start = useTwoSiteCluster();

  it('answers 409 safety_rule with the rules list', async () => {
    const { cluster, leader } = await start(3, (a1, b1) => ({ ...twoSiteTenant('t.example.com', a1, b1), safety: { min_available_sites: 2 } }));
    const follower = cluster.replicas.find((r) => r !== leader)!;
    const fo = await post(follower, '/tenants/t/failover', { to: 'b1', reason: 'planned move' });
    expect(fo.status).toBe(409);
    expect(fo.body).toMatchObject({ error: 'safety_rule', rules: [{ rule: 'min_available_sites', required: 2, before: 2, after: 1 }] });
    expect(String((fo.body as { override?: unknown }).override)).toContain('break_glass');
    expect(await tenantOf(cluster, leader)).toMatchObject({ active: 'a1', epoch: 1 });
  }, 60_000);
});
