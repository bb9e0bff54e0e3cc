/**
 * GET /events and changes without a state change (issue 21, item 5): draining a backend
 * through the API changes no tenant state and, here, not the site's availability either, yet an
 * open stream gets the tenant in its next `tenants` event, so that a page showing that tenant
 * reads its backends again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import type { TenantsChanged } from '../src/console/contract.js';

let a1: Upstream, a2: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, a2, b1] = await Promise.all([startUpstream('a1'), startUpstream('a2'), startUpstream('b1')]);
  p = await startProxy(
    {
      admin: adminTokens(),
      defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url, a2.url] }, { name: 'b1', backends: [b1.url] }] } },
    },
    // No sweep within the test: only the drain itself can send the event.
    { console: { feed: { sweepMs: 60_000 } } },
  );
  await sitesHealthy(p, 't');
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1, a2, b1);
});

describe('GET /events: a drain through the API', () => {
  it('sends the tenant in the next tenants event, though its summary is the same', async () => {
    const s = await openEvents(p.adminUrl, VIEWER);
    try {
      const snap = (await s.next((e) => e.event === 'snapshot')).data as { tenants: { name: string }[] };
      const before = snap.tenants.find((t) => t.name === 't')!;
      const detail = await admin(p.adminUrl, 'GET', '/tenants/t', { token: VIEWER });
      const backend = ((detail.body.sites as { backends: { name: string }[] }[])[0]!.backends[1]!).name;
      const from = s.events.length;
      const drainedAt = Date.now();
      const r = await admin(p.adminUrl, 'POST', `/tenants/t/sites/a1/backends/${encodeURIComponent(backend)}/drain`, { token: OPERATOR, body: { reason: 'console drain test' } });
      expect(r.status).toBe(200);
      const e = await s.next((x) => x.event === 'tenants' && (x.data as TenantsChanged).tenants.some((t) => t.name === 't'), { from, timeout: 3000, what: 'a tenants event with t' });
      expect(e.at - drainedAt).toBeLessThan(1000);
      const t = (e.data as TenantsChanged).tenants.find((x) => x.name === 't')!;
      expect({ ...t, updated_at: undefined }).toEqual({ ...before, updated_at: undefined });
    } finally {
      s.close();
    }
  });
});
