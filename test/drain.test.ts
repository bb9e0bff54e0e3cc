import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, failover: { drain_timeout: '400ms', hold_requests: '5s' } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('drain of the old site', () => {
  it('lets quick requests finish, cuts slow ones at drain_timeout, closes WebSockets, and logs the counts', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`, { headers: { host: 't.example.com' } });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const wsClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const h = { host: 't.example.com', 'content-type': 'text/plain' };
    // Non-idempotent, so not re-sent: one finishes within the drain, one does not.
    const quick = request(`${p.url}/slow?ms=150`, { method: 'POST', headers: h, body: 'q' });
    const slow = request(`${p.url}/slow?ms=5000`, { method: 'POST', headers: h, body: 's' });
    await waitFor(async () => (await primary.stats()).byPath['/slow'] === 2, { what: 'both POSTs on a1' });
    const t = p.proxy.tenant('t')!;
    const record = await t.operatorFailover({ to: 'b1', reason: 'planned move', actor: 'test' });
    expect(record.drain).toMatchObject({ inflight: 2, redispatched: 0, finished: 1, cut: 1, upgrades: 1 });
    expect(record.timings.drainedAt - record.timings.persistedAt).toBeGreaterThanOrEqual(390);
    expect((await quick).statusCode).toBe(200);
    const s = await slow;
    expect(s.statusCode).toBe(502);
    await s.body.dump();
    await wsClosed;
    expect(p.logs.some((l) => String(l.msg).startsWith('drained a1: 1 finished, 0 re-sent, 1 cut'))).toBe(true);
  });
});
