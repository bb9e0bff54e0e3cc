/**
 * Issue 23, item 3: a reset dials its backend at once (Backend.dialAfterReset). A request reset
 * by a dying process counts one failure of consecutive_failures; the dial asks the port itself,
 * and a refusal (nothing listens: the process is gone) ejects the backend as a refused request
 * would (consecutive_refused), without waiting for more requests to fail on it or for a probe.
 * Here the backend resets one request and closes its listener with it; probes are 30 s apart
 * and no further request is sent, so only the dial can find the closed port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

/** Answers 200 until `crash()`; then resets the next request and stops listening with it. */
async function startCrashing(): Promise<{ url: string; resets: number; crash(): void; close(): Promise<void> }> {
  let crashing = false;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    if (!crashing) {
      res.writeHead(200, { 'x-site': 'a1' });
      res.end('ok');
      return;
    }
    c.resets++;
    server.close();
    req.socket.resetAndDestroy();
    for (const s of sockets) s.destroy();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    resets: 0,
    crash: () => void (crashing = true),
    close: () => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r())),
  };
  return c;
}

let a: Awaited<ReturnType<typeof startCrashing>>;
let b: Upstream, c1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  a = await startCrashing();
  [b, c1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: {
      health_check: { interval: '30s', timeout: '1s', rise: 1, fall: 1, jitter: 0 },
      passive_health: { consecutive_failures: 3, consecutive_refused: 1, max_ejected_percent: 100 },
    },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a.url, b.url] }, { name: 'b1', backends: [c1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await a?.close();
  await stopAll(b, c1);
});

describe('a request reset by its backend', () => {
  it('dials that backend at once: refused, it is ejected after one reset', async () => {
    a.crash();
    // Round robin over a1's two backends: at most two requests reach the crashing one.
    for (let i = 0; i < 2 && a.resets === 0; i++) {
      const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
      await r.body.dump();
      expect(r.statusCode).toBe(200); // the reset request was re-sent to the other backend
    }
    expect(a.resets).toBe(1);
    const ejection = await waitFor(() => p.logs.find((l) => l.msg === 'backend ejected (passive health)'), { what: 'the ejection log line', timeout: 3000 });
    expect(ejection).toMatchObject({ backend: p.proxy.tenant('t')!.site('a1')!.backends[0]!.backend.name, kind: 'connect', refused: 1 });
    // One reset only: consecutive_failures (3) alone would not have ejected it.
    expect(ejection.failures).toBe(2);
  });
});
