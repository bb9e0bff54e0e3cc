/**
 * The page's own copy of the API's shapes (src/console/web/model.ts, which cannot import the
 * Node-side contract) against the contract and the real answers: `npm run typecheck` fails
 * when contract.ts changes in a way the page cannot read, and this test fails when
 * GET /fleet or GET /tenants/:t lack a field the page reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as C from '../src/console/contract.js';
import type * as M from '../src/console/web/model.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { FAST_CHECKS, sitesHealthy, startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

// Compile-time: whatever the server sends under the contract, the page's types accept...
export const readable = {
  snapshot: (x: C.FleetSnapshot): M.FleetSnapshot => x,
  changed: (x: C.TenantsChanged): M.TenantsChanged => x,
  flip: (x: C.FlipEvent): M.FlipEvent => x,
  who: (x: C.WhoAmI): M.WhoAmI => x,
  // ...and the page expects no field of the summaries that the contract does not promise.
  summary: (x: M.TenantSummary): C.TenantSummary => x,
  counts: (x: M.FleetCounts): C.FleetSnapshot['counts'] => x,
};

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', region: 'r1', zone: 'z1', backends: [a1.url] }, { name: 'b1', region: 'r2', zone: 'z2', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v);
function shape(o: Record<string, unknown>, want: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(want).map((k) => [k, typeOf(o[k])]));
}

describe('what the page reads is what the API answers', () => {
  it('GET /fleet: the snapshot and each TenantSummary', async () => {
    const r = await admin(p.adminUrl, 'GET', '/fleet', { token: VIEWER });
    expect(r.status).toBe(200);
    const want = { at: 'string', version: 'string', counts: 'object', automatic: 'object', tenants: 'array' };
    expect(shape(r.body, want)).toEqual(want);
    const t = (r.body.tenants as Record<string, unknown>[])[0]!;
    const tw = { name: 'string', tier: 'string', phase: 'string', epoch: 'number', active: 'string', preferred: 'string', off_preferred: 'boolean', regions: 'array', fenced: 'array', sites_available: 'number', sites: 'number' };
    expect(shape(t, tw)).toEqual(tw);
    expect(t.regions).toEqual(['r1', 'r2']);
  });

  it('GET /whoami', async () => {
    expect((await admin(p.adminUrl, 'GET', '/whoami', { token: OPERATOR })).body).toEqual({ name: 'ops', role: 'operator' });
  });

  it('GET /tenants/:t: sites, backends and flips as the tenant view reads them', async () => {
    const f = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { reason: 'contract test' } });
    expect(f.status).toBe(200);
    const r = await admin(p.adminUrl, 'GET', '/tenants/t', { token: VIEWER });
    const d = r.body;
    const dw = { name: 'string', tier: 'string', rpo_seconds: 'number', rto_seconds: 'number', phase: 'string', epoch: 'number', active: 'string', fenced: 'array', mode: 'string', failback: 'string', hosts: 'array', sites: 'array', flips: 'array' };
    expect(shape(d, dw)).toEqual(dw);
    const site = (d.sites as Record<string, unknown>[])[0]!;
    const sw = { name: 'string', region: 'string', zone: 'string', available: 'boolean', stale: 'boolean', ready: 'boolean', not_ready: 'array', backends: 'array' };
    expect(shape(site, sw)).toEqual(sw);
    const b = (site.backends as Record<string, unknown>[])[0]!;
    const bw = { name: 'string', url: 'string', state: 'string', drained: 'boolean', ejected: 'boolean', last_check: 'object' };
    expect(shape(b, bw)).toEqual(bw);
    expect(['up', 'down', 'unknown']).toContain(b.state);
    const flip = (d.flips as Record<string, unknown>[]).at(-1)!;
    const fw = { from: 'string', to: 'string', epoch: 'number', trigger: 'string', result: 'string', timings: 'object', durationMs: 'number', rtoMs: 'number' };
    expect(shape(flip, fw)).toEqual(fw);
    const timings = flip.timings as Record<string, unknown>;
    for (const k of ['detectedAt', 'trippedAt', 'persistedAt', 'drainedAt', 'fencedAt', 'promotedAt', 'routedAt']) expect(typeof timings[k]).toBe('number');
  });
});
