/**
 * GET /events (issue 21, item 5): a viewer's stream starts with a `snapshot`; when the primary
 * is killed the tenant's new site and epoch arrive as a `tenants` event, and its flip as a
 * `flip` event, within a second of the state change, without polling. A stream is audited
 * once, is capped by admin.max_event_streams, and is not cut by admin.headers_timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, VIEWER } from './helpers/admin.js';
import { openEvents, type SseStream } from './helpers/sse.js';
import { waitFor } from './helpers/poll.js';
import type { FleetSnapshot, FlipEvent, TenantsChanged } from '../src/console/contract.js';
import type { TenantState } from '../src/state/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
const states: { state: TenantState; at: number }[] = [];
const streams: SseStream[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy(
    {
      admin: { ...adminTokens(), max_event_streams: 3, headers_timeout: '1s' },
      // A probe timeout of 1 s: a loaded machine does not fail a1 on its own; a killed a1 refuses at once.
      defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '100ms' } },
      tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
    },
    { controllerHooks: { onState: (state) => void states.push({ state, at: Date.now() }) }, console: { feed: { pingMs: 200 } } },
  );
  await sitesHealthy(p, 't');
});
// A failed test leaves no stream open for the next one.
afterEach(() => {
  for (const s of streams.splice(0)) s.close();
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

const open = async (token: string | undefined = VIEWER) => {
  const s = await openEvents(p.adminUrl, token);
  streams.push(s);
  return s;
};

describe('GET /events', () => {
  it('no token: 401 with a JSON body, no stream', async () => {
    const r = await admin(p.adminUrl, 'GET', '/events');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: 'unauthorized' });
  });

  it('a viewer sees the snapshot, then a killed primary as a tenants and a flip event within a second', async () => {
    const s = await open();
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(s.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    const first = await s.next(() => true, { what: 'the first event' });
    expect(first.event).toBe('snapshot');
    const snap = first.data as FleetSnapshot;
    const before = snap.tenants.find((t) => t.name === 't')!;
    expect(before).toMatchObject({ active: 'a1', phase: 'active', sites_available: 2 });

    await a1.kill();
    const routed = await waitFor(() => states.find((x) => x.state.active === 'b1' && x.state.phase === 'active'), { what: 't routed to b1' });
    const changed = await s.next((e) => e.event === 'tenants' && (e.data as TenantsChanged).tenants.some((t) => t.name === 't' && t.active === 'b1' && t.phase === 'active'), { what: 'a tenants event with t on b1' });
    const t = (changed.data as TenantsChanged).tenants.find((x) => x.name === 't')!;
    expect(t.epoch).toBe(before.epoch + 1);
    expect(t).toMatchObject({ off_preferred: true, fenced: ['a1'] });
    expect((changed.data as TenantsChanged).counts).toMatchObject({ off_preferred: 1, total: 1 });
    expect(changed.at - routed.at).toBeLessThan(1000);
    const flip = await s.next((e) => e.event === 'flip', { what: 'a flip event' });
    const f = flip.data as FlipEvent;
    expect(f).toMatchObject({ tenant: 't', record: { from: 'a1', to: 'b1', epoch: before.epoch + 1, result: 'routed' } });
    expect(flip.at - routed.at).toBeLessThan(1000);
    s.close();
  });

  it('a stream is audited once, not once per event', async () => {
    const auditedBefore = p.logs.filter((l) => l.audit === true && l.action === 'events').length;
    const s = await open();
    await s.next((e) => e.event === 'snapshot');
    await waitFor(() => s.comments.length >= 3, { what: 'three pings' });
    s.close();
    const records = p.logs.filter((l) => l.audit === true && l.action === 'events');
    expect(records.length - auditedBefore).toBe(1);
    expect(records.at(-1)).toMatchObject({ actor: 'grafana', result: 'ok', status: 200 });
  });

  it('admin.max_event_streams: one more stream gets 503 with Retry-After; a closed one frees its place', async () => {
    await waitFor(() => p.proxy.console().feed.size === 0, { what: 'earlier streams gone' });
    const three = [await open(), await open(), await open()];
    const refused = await admin(p.adminUrl, 'GET', '/events', { token: VIEWER });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'too_many_streams', detail: expect.stringMatching(/admin\.max_event_streams/) });
    expect(refused.headers['retry-after']).toBe('5');
    three[0]!.close();
    await waitFor(() => p.proxy.console().feed.size === 2, { what: 'a stream closed' });
    const again = await open();
    expect(again.status).toBe(200);
    for (const s of [...three, again]) s.close();
  });

  it('admin.headers_timeout (1s here) does not cut an open stream: pings still arrive 3 s later', async () => {
    await waitFor(() => p.proxy.console().feed.size === 0, { what: 'earlier streams gone' });
    const s = await open();
    const opened = Date.now();
    await s.next((e) => e.event === 'snapshot');
    await waitFor(() => s.comments.some((c) => c.at > opened + 3000), { timeout: 6000, what: 'a ping 3 s after opening' });
    expect(s.comments.every((c) => c.text === 'ping')).toBe(true);
    s.close();
  });
});
