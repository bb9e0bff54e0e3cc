/**
 * server.workers ≥ 1 (src/workers/): requests are served by data-plane worker threads, the main
 * thread opens no data-plane listener, and with two workers (Node with reusePort) connections
 * are spread over both. On Node without reusePort, two workers are clamped to one with a warning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { hasReusePort } from '../src/workers/worker-count.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;
/** Probes that a loaded machine does not fail, and no automatic flip: only the test's own flips happen. */
const STEADY = { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 };

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({ server: { workers: 2 }, defaults: { health_check: STEADY, failover: { mode: 'manual' } }, tenants: { t: twoSiteTenant('t.example.com', primary, backup) } });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

/** One request on a connection of its own (the kernel spreads connections, not requests). */
function once(): Promise<{ status: number; site: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: p.port, path: '/', agent: false, headers: { host: 't.example.com' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, site: (JSON.parse(body) as { site: string }).site }));
    });
    req.on('error', reject);
  });
}

/** Connections each worker accepted, from /metrics (drproxy_worker_connections_total{worker}). */
async function perWorker(): Promise<Map<string, number>> {
  const text = await p.proxy.metricsText();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^drproxy_worker_connections_total\{worker="(w\d+)"\} (\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('data-plane worker threads', () => {
  it('serves through the workers; the main thread opens no data-plane listener', async () => {
    expect(p.proxy.threads).toBeDefined();
    expect(p.proxy.dataPlane.server.listening).toBe(false);
    expect(await once()).toEqual({ status: 200, site: 'a1' });
    const counts = await perWorker();
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
  });

  it.runIf(hasReusePort())('spreads connections over both workers (reusePort)', async () => {
    expect(p.proxy.threads!.ids()).toHaveLength(2);
    await waitFor(
      async () => {
        for (let i = 0; i < 10; i++) expect((await once()).status).toBe(200);
        const counts = await perWorker();
        return counts.size === 2 && [...counts.values()].every((n) => n > 0);
      },
      { what: 'connections accepted by both workers', timeout: 15_000 },
    );
  });

  it.runIf(!hasReusePort())('runs one worker on Node without reusePort, and says so once', () => {
    expect(p.proxy.threads!.ids()).toHaveLength(1);
    const warned = p.logs.filter((l) => l.path === 'server.workers' && String(l.msg).includes(`Node ${process.versions.node} has no reusePort`));
    expect(warned).toHaveLength(1);
  });
});
