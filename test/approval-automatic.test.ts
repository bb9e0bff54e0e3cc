/**
 * Two-person approval never holds an automatic failover: on a tenant of a tier marked
 * `approval: two_person`, the primary going down moves traffic with no request to approve.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s', drain_timeout: '100ms' } },
    tiers: { BC: { approval: 'two_person' } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

it('fails a marked tenant over by itself when its primary goes down', async () => {
  expect(p.proxy.tenant('acme')!.config.approval).toBe('two_person');
  await a1.setHealth(503);
  await waitFor(() => p.proxy.tenant('acme')!.state.active === 'b1', { what: 'automatic failover to b1' });
  expect(p.proxy.tenant('acme')!.state.epoch).toBe(2);
  const list = await admin(p.adminUrl, 'GET', '/approvals', { token: VIEWER });
  expect(list.body.approvals).toEqual([]);
});
