/**
 * A flip under server.workers (src/workers/): each worker drains its own calls to the old site
 * (failover/drain.ts run in the worker, on the worker's Backends) and the flip's drained step
 * waits for every worker's acknowledgement: an idempotent request in flight to the old site is
 * re-sent to the new one by its worker, a POST finishes within drain_timeout or is cut at it.
 * The flip's record (and its `drained …` line) shows the workers' counts summed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;
/** Probes that a loaded machine does not fail, and no automatic flip: only the test's own flips happen. */
const STEADY = { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 };

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { workers: 2 },
    defaults: { health_check: STEADY, failover: { mode: 'manual', drain_timeout: '400ms', hold_requests: '5s' } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('drain at a flip, in the workers', () => {
  it('re-sends an idempotent request in flight to the new site, cuts a slow POST at drain_timeout, and the flip waits for it', async () => {
    const h = { host: 't.example.com', 'content-type': 'text/plain' };
    const get = request(`${p.url}/slow?ms=1500`, { headers: { host: 't.example.com' } });
    const quick = request(`${p.url}/slow?ms=150`, { method: 'POST', headers: h, body: 'q' });
    const slow = request(`${p.url}/slow?ms=5000`, { method: 'POST', headers: h, body: 's' });
    await waitFor(async () => (await primary.stats()).byPath['/slow'] === 3, { what: 'three calls on a1' });
    const record = await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'planned move', actor: 'test' });
    // The main thread's own drain had nothing in flight: only the workers' drain took this long.
    expect(record.timings.drainedAt - record.timings.persistedAt).toBeGreaterThanOrEqual(390);
    const g = await get;
    expect(g.statusCode).toBe(200);
    expect(((await g.body.json()) as { site: string }).site).toBe('b1');
    expect((await quick).statusCode).toBe(200);
    const s = await slow;
    expect(s.statusCode).toBe(502);
    await s.body.dump();
    // Each worker drained its own calls (the three may have come in on different workers); the
    // flip's record shows their sum (as inline, the one data plane's), not the main thread's
    // zeros: the admin API's answer, /tenants/:t flips, and the one `drained …` line (each
    // worker's own share is logged at debug only).
    const want = { inflight: 3, redispatched: 1, finished: 1, cut: 1, upgrades: 0 };
    expect(record.drain).toMatchObject(want);
    expect(record.drain!.durationMs).toBeGreaterThanOrEqual(390);
    const flips = (p.proxy.tenantStatus('t', true) as { flips: Array<{ epoch: number; drain?: object }> }).flips;
    expect(flips.find((f) => f.epoch === record.epoch)?.drain).toMatchObject(want);
    const line = p.logs.find((l) => l.worker === undefined && String(l.msg).startsWith('drained a1:'));
    expect(line).toMatchObject({ ...want, msg: 'drained a1: 1 finished, 1 re-sent, 1 cut' });
    expect(p.logs.filter((l) => String(l.msg).startsWith('drained a1:'))).toHaveLength(1);
  });
});
