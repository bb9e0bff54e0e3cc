/**
 * Passive health under server.workers (src/workers/): a worker's Backend counts the streak of a
 * backend that resets every proxied request, posts the trip to the main thread in a batch, and
 * the main thread's outlier detector ejects it: its one-backend site becomes unavailable and the
 * tenant fails over; the request that met the resets is answered by the other site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let resetting = false;
let resets = 0;
let a1: http.Server, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  // Answers its probe always, every other request with 200 until `resetting`, then with a reset.
  a1 = http.createServer((req, res) => {
    if (req.url === '/healthz' || !resetting) return void res.writeHead(200, { 'x-site': 'a1' }).end('ok');
    resets++;
    req.socket.resetAndDestroy();
  });
  await new Promise<void>((ok) => a1.listen(0, '127.0.0.1', ok));
  b1 = await startUpstream('b1');
  p = await startProxy({
    server: { workers: 2 },
    defaults: {
      // One probe at start, then none within the test; and a1's would pass: only passive health can see it.
      health_check: { interval: '30s', timeout: '1s', rise: 1, fall: 1, jitter: 0 },
      // One request is two failures in its worker (the attempt, and its one re-send to the only backend).
      passive_health: { consecutive_failures: 2, base_ejection: '30s' },
      failover: { hold_requests: '20s', min_interval: '0s' },
    },
    tenants: { t: twoSiteTenant('t.example.com', { url: `http://127.0.0.1:${(a1.address() as AddressInfo).port}` }, b1) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  a1?.closeAllConnections();
  await new Promise((ok) => a1?.close(ok));
  await stopAll(b1);
});

describe('passive health in a worker', () => {
  it('a trip counted in a worker ejects the backend on the main thread and the tenant fails over', async () => {
    const t = p.proxy.tenant('t')!;
    const first = await request(`${p.url}/x`, { headers: { host: 't.example.com' } });
    await first.body.dump();
    expect(first.headers['x-site']).toBe('a1');
    resetting = true;
    const r = await request(`${p.url}/x?after`, { headers: { host: 't.example.com' }, headersTimeout: 15_000 });
    await r.body.dump();
    expect(`${r.statusCode} ${String(r.headers['x-site'])}`).toBe('200 b1');
    expect(resets).toBeGreaterThanOrEqual(2);
    const ejection = await waitFor(() => p.logs.find((l) => l.msg === 'backend ejected (passive health)'), { what: 'the ejection log line' });
    expect(ejection).toMatchObject({ site: 'a1', kind: 'reset' });
    expect(ejection!.failures).toBeGreaterThanOrEqual(2);
    expect(t.state.active).toBe('b1');
    expect(t.flips.at(-1)).toMatchObject({ from: 'a1', to: 'b1', trigger: 'health' });
    // The probe still passes: the ejection, not the active check, took the site down.
    expect(t.site('a1')!.backends[0]!.health.check.state).toBe('up');
  });
});
