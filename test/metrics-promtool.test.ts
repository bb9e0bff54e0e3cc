/**
 * Issue 17 item 6: `curl …/metrics | promtool check metrics` passes (no lint output, exit 0)
 * on a drproxy with a couple of tenants after a failover, at backend detail and at tenant
 * detail (the fleet-wide folds have no tenant label). promtool is the Debian package
 * `prometheus`'s; without it the test is skipped locally and fails in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
if (!PROMTOOL && process.env.CI) throw new Error('promtool is missing: .ci/run installs the Debian package "prometheus"; CI must run this test');
if (!PROMTOOL) console.warn('metrics-promtool.test.ts skipped: promtool is not installed (apt-get install prometheus)');

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

let a1: Upstream, b1: Upstream;
beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});
afterAll(() => stopAll(a1, b1));

describe.skipIf(!PROMTOOL).each(['backend', 'tenant'])('promtool check metrics at %s detail', (detail) => {
  let p: TestProxy;
  beforeAll(async () => {
    p = await startProxy({
      metrics: { detail },
      defaults: { health_check: FAST_CHECKS },
      tenants: { acme: twoSiteTenant('acme.example.com', a1, b1), beta: twoSiteTenant('beta.example.com', a1, b1) },
    });
    await sitesHealthy(p, 'acme');
    await sitesHealthy(p, 'beta');
  });
  afterAll(() => p?.stop());

  it('passes with no lint output after a failover', async () => {
    await p.proxy.tenant('acme')!.operatorFailover({ to: 'b1', reason: 'promtool test', actor: 't' });
    await waitFor(() => p.proxy.tenant('acme')!.state.active === 'b1', { what: 'flip to b1' });
    const r = await admin(p.adminUrl, 'GET', '/metrics');
    expect(r.text).toContain('drproxy_failovers_total{tenant="acme",trigger="admin",result="routed"} 1');
    const { status, output } = promtool(r.text);
    expect(output).toBe('');
    expect(status).toBe(0);
  });
});
