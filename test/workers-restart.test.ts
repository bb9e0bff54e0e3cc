/**
 * A data-plane worker that exits (terminated here as a crash would end it) is no longer waited
 * for: a flip made while it is gone completes, and its replacement gets the full route set
 * before it listens, so it serves the current route (the new site, at the new epoch).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

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

/** One request on a connection of its own: the site and epoch the upstream saw. */
function once(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: p.port, path: '/', agent: false, headers: { host: 't.example.com' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        const j = JSON.parse(body) as { site: string; headers: Record<string, string> };
        resolve(`${res.statusCode} ${j.site} ${j.headers['x-dr-epoch']}`);
      });
    });
    req.on('error', reject);
  });
}

async function connectionsOf(worker: string): Promise<number> {
  const m = new RegExp(`^drproxy_worker_connections_total\\{worker="${worker}"\\} (\\d+)`, 'm').exec(await p.proxy.metricsText());
  return m ? Number(m[1]) : 0;
}

describe('a data-plane worker that exits', () => {
  it('is restarted with the current routes; a flip made meanwhile does not wait for it', async () => {
    const threads = p.proxy.threads!;
    const before = threads.ids();
    expect(await once()).toBe('200 a1 1');
    await threads.terminate(before[0]!);
    // With one worker (Node without reusePort) nothing listens until its replacement does: /readyz says so.
    if (before.length === 1) expect(p.proxy.ready().reasons).toContain('no data-plane worker is listening (restarting)');
    // The replacement starts after a back-off: the flip runs while the worker is gone.
    const record = await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'while a worker is down', actor: 'test' });
    expect(record).toMatchObject({ to: 'b1', epoch: 2, result: 'routed' });
    const fresh = await waitFor(() => threads.ids().find((id) => !before.includes(id) && threads.listening.has(id)), { what: 'a new worker listening' });
    expect(threads.ids()).toHaveLength(before.length);
    // Every connection, whichever worker takes it, is served the current route.
    await waitFor(
      async () => {
        for (let i = 0; i < 10; i++) expect(await once()).toBe('200 b1 2');
        return (await connectionsOf(fresh)) > 0;
      },
      { what: `connections served by ${fresh}`, timeout: 15_000 },
    );
    expect(p.logs.some((l) => l.msg === 'data-plane worker exited; starting a new one' && l.worker === before[0])).toBe(true);
  });
});
