/**
 * Clustered mode (state.etcd): the kill switch is not built there yet (docs/safety.md), so
 * POST /automatic is refused with a 409 that says so, and automatic flips stay on.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { post, useTwoSiteCluster } from './helpers/cluster-admin.js';
import { OPERATOR } from './helpers/admin.js';

describe.skipIf(!ETCD_INSTALLED)('clustered: the kill switch', () => {
  const start = useTwoSiteCluster();

  it('POST /automatic answers 409 and automatic flips stay on', async () => {
    const { leader } = await start(1);
    const r = await post(leader, '/automatic', { enabled: false, reason: 'maintenance' });
    expect(r.status).toBe(409);
    expect(String(r.body.detail)).toMatch(/not available in clustered mode/);
    const g = await request(`${leader.child.adminUrl}/automatic`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    expect(await g.body.json()).toMatchObject({ enabled: true });
  });
});
