/**
 * GET /fleet (issue 21, item 3): the FleetSnapshot of contract.ts, compact, built from each
 * tenant controller (state, config, sites' health, regions); after a failover the tenant is
 * off its preferred site and the counts say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { FleetSnapshot } from '../src/console/contract.js';

// acme's three sites share one backend: all come up with its first probe, so acme starts on a1.
let a1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  a1 = await startUpstream('a1');
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '100ms' } },
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', region: 'A', zone: '1A', backends: [a1.url] }, { name: 'a2', region: 'A', zone: '2A', backends: [a1.url] }, { name: 'b1', region: 'B', backends: [a1.url] }] },
      globex: { tier: 'DR3', hosts: ['globex.example.com'], sites: [{ name: 'g1', backends: [a1.url] }, { name: 'g2', backends: ['http://127.0.0.1:9'] }] },
    },
  });
  await sitesHealthy(p, 'acme');
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1);
});

const fleet = async (): Promise<{ status: number; text: string; snap: FleetSnapshot }> => {
  const r = await request(`${p.adminUrl}/fleet`, { headers: { authorization: `Bearer ${VIEWER}` } });
  const text = await r.body.text();
  return { status: r.statusCode, text, snap: JSON.parse(text) as FleetSnapshot };
};

describe('GET /fleet', () => {
  it('needs a viewer token', async () => {
    expect((await admin(p.adminUrl, 'GET', '/fleet')).status).toBe(401);
  });

  it('answers the FleetSnapshot: counts, automatic, each tenant\'s summary, compact JSON', async () => {
    await waitFor(async () => (await fleet()).snap.tenants.find((t) => t.name === 'globex')?.sites_available === 1, { what: 'globex: g1 up, g2 down' });
    const { status, text, snap } = await fleet();
    expect(status).toBe(200);
    expect(text).not.toContain('\n');
    expect(Date.parse(snap.at)).toBeGreaterThan(Date.now() - 10_000);
    expect(snap.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(snap.automatic).toEqual({ enabled: true });
    expect(snap.cluster).toBeUndefined();
    expect(snap.counts).toEqual({ active: 2, failing_over: 0, frozen: 0, off_preferred: 0, total: 2 });
    expect(snap.tenants.map((t) => t.name)).toEqual(['acme', 'globex']);
    const acme = snap.tenants[0]!;
    expect(acme).toMatchObject({ name: 'acme', tier: 'BC', phase: 'active', epoch: expect.any(Number), active: 'a1', preferred: 'a1', off_preferred: false, regions: ['A', 'B'], fenced: [], sites_available: 3, sites: 3 });
    expect(acme.frozen_cause).toBeUndefined();
    expect(snap.tenants[1]).toMatchObject({ name: 'globex', tier: 'DR3', regions: [], sites_available: 1, sites: 2 });
  });

  it('after a failover: off its preferred site, new epoch, counted', async () => {
    const before = (await fleet()).snap.tenants[0]!.epoch;
    const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { reason: 'fleet test', to: 'b1' } });
    expect(r.status).toBe(200);
    const { snap } = await fleet();
    expect(snap.tenants[0]).toMatchObject({ active: 'b1', preferred: 'a1', off_preferred: true, epoch: before + 1, fenced: ['a1'], reason: 'fleet test' });
    expect(snap.counts).toMatchObject({ active: 2, off_preferred: 1, total: 2 });
  });
});
