/**
 * Issue 18, step 1, with real sockets: a backend that goes on listening and passing its probe,
 * but resets every proxied request, is ejected by its outlier detector (kind `reset`, on the
 * turn after the data plane's reports) and its one-backend site becomes unavailable: the tenant
 * fails over, and the requests that met the resets are answered by the other site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

/** Answers its probe (/healthz) always, every other request with 200 until `resetting`, then with a reset. */
interface Resetting {
  url: string;
  resetting: boolean;
  resets: number;
  close(): Promise<void>;
}

async function startResetting(): Promise<Resetting> {
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz' || !r.resetting) {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-site': 'a1' });
      res.end('ok');
      return;
    }
    r.resets++;
    req.socket.resetAndDestroy();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const r: Resetting = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    resetting: false,
    resets: 0,
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
  return r;
}

let a1: Resetting, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startResetting(), startUpstream('b1')]);
  p = await startProxy({
    defaults: {
      // One probe at start, then none within the test; and a1's would pass: only passive health can see it.
      health_check: { interval: '30s', timeout: '1s', rise: 1, fall: 1, jitter: 0 },
      passive_health: { consecutive_failures: 3, base_ejection: '30s' },
      failover: { hold_requests: '20s', min_interval: '0s' },
    },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await a1?.close();
  await stopAll(b1);
});

describe('a backend that resets every request', () => {
  it('is ejected by passive health and the tenant fails over; the requests are answered by the other site', async () => {
    const t = p.proxy.tenant('t')!;
    const first = await request(`${p.url}/x`, { headers: { host: 't.example.com' } });
    await first.body.dump();
    expect(first.headers['x-site']).toBe('a1');
    a1.resetting = true;
    const answers = await Promise.all(
      Array.from({ length: 3 }, async (_, i) => {
        const r = await request(`${p.url}/x?i=${i}`, { headers: { host: 't.example.com' }, headersTimeout: 15_000 });
        await r.body.dump();
        return `${r.statusCode} ${String(r.headers['x-site'])}`;
      }),
    );
    expect(answers).toEqual(Array(3).fill('200 b1'));
    expect(a1.resets).toBeGreaterThanOrEqual(3);
    const ejection = await waitFor(() => p.logs.find((l) => l.msg === 'backend ejected (passive health)'), { what: 'the ejection log line' });
    expect(ejection).toMatchObject({ site: 'a1', kind: 'reset' });
    expect(ejection!.failures).toBeGreaterThanOrEqual(3);
    expect(t.state.active).toBe('b1');
    expect(t.flips.at(-1)).toMatchObject({ from: 'a1', to: 'b1', trigger: 'health' });
    // The probe still passes: the ejection, not the active check, took the site down.
    expect(t.site('a1')!.backends[0]!.health.check.state).toBe('up');
  });
});
