/**
 * GET /events compressed: a client that takes gzip (browsers do) gets `Content-Encoding: gzip`,
 * and every event is flushed through the compressor at once (Z_SYNC_FLUSH), so that a flip still
 * reaches the page within a second; shutdown ends the compressed stream cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import type { FleetSnapshot, FlipEvent } from '../src/console/contract.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '100ms' } },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
  await sitesHealthy(p, 't');
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('GET /events with Accept-Encoding: gzip', () => {
  it('is compressed, and each event arrives at once', async () => {
    const s = await openEvents(p.adminUrl, VIEWER, '/events', { gzip: true });
    expect(s.status).toBe(200);
    expect(s.headers['content-encoding']).toBe('gzip');
    expect(s.headers.vary).toBe('accept-encoding');
    const snap = (await s.next((e) => e.event === 'snapshot')).data as FleetSnapshot;
    expect(snap.tenants.map((t) => t.name)).toEqual(['t']);

    const asked = Date.now();
    const r = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'b1', reason: 'gzip stream test' } });
    expect(r.status).toBe(200);
    const flip = await s.next((e) => e.event === 'flip', { what: 'the flip event through gzip' });
    expect((flip.data as FlipEvent).record).toMatchObject({ from: 'a1', to: 'b1' });
    expect(flip.at - asked).toBeLessThan(1000);

    const plain = await openEvents(p.adminUrl, VIEWER);
    expect(plain.headers['content-encoding']).toBeUndefined();
    await plain.next((e) => e.event === 'snapshot');
    plain.close();

    await p.stop();
    expect(await s.ended).toBe('end');
  });
});
