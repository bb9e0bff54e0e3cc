/**
 * Issue 16, item 18: a request whose only backend refused it waits for the flip for at most the
 * site's detection time. When that wait ends while the flip is on (the tenant holds requests),
 * it waits on for the flip, within what is left of its hold bound, instead of failing with 502
 * a moment before the new site could take it.
 *
 * Health checks every 300 ms (detection time 900 ms); passive health off, so that only the
 * checks find a1 down; the promote hook takes 1.5 s, so the flip is still holding when the
 * detection wait ends; hold_requests 4 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition } from './helpers/prom.js';

const HOLD_MS = 4000;
const MARGIN_MS = 300;

let primary: Upstream, backup: Upstream;
let hooks: HookServer;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  hooks = await startHookServer(200, 1500);
  p = await startProxy({
    defaults: {
      health_check: { interval: '300ms', timeout: '100ms', rise: 2, fall: 2, jitter: 0 },
      failover: { hold_requests: `${HOLD_MS}ms`, min_interval: '0s' },
      passive_health: { consecutive_failures: 0 },
    },
    tenants: {
      t: {
        tier: 'BC',
        hosts: ['t.example.com'],
        sites: [
          { name: 'a1', backends: [primary.url] },
          { name: 'b1', backends: [backup.url], promote: { url: `${hooks.url}/promote`, timeout: '5s' } },
        ],
      },
    },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  await hooks?.close();
});

describe('a request waiting for its failed site to be detected', () => {
  it('waits on for the flip when the detection wait ends during it, and is answered by the new site in its bound', async () => {
    const t = p.proxy.tenant('t')!;
    expect(t.slot.route.detectMs).toBe(900);
    await primary.kill('SIGKILL');
    // Sent before the health checks notice: a1 refuses it (twice), and it waits for the flip.
    const t0 = performance.now();
    const r = await request(`${p.url}/after-kill`, { headers: { host: 't.example.com' }, headersTimeout: 10_000 });
    const at = performance.now();
    const body = await r.body.text();
    expect(r.statusCode, body).toBe(200);
    expect(r.headers['x-site']).toBe('b1');
    expect(at - t0).toBeLessThanOrEqual(HOLD_MS + MARGIN_MS);
    await waitFor(() => t.state.active === 'b1' && t.state.phase === 'active', { what: 'flip to b1' });
    // It went through the detection wait: a retry was counted.
    const e = parseExposition(await p.proxy.metrics.text());
    expect(e.samples.some((s) => s.name === 'drproxy_upstream_retries_total' && s.labels.kind === 'connect' && s.value > 0)).toBe(true);
  }, 30_000);
});
