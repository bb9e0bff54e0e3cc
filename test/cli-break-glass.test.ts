/**
 * `drproxy failover … --force --break-glass` and `drproxy fence … --break-glass` (docs/safety.md
 * "Per-flip rules"): without --break-glass the CLI reports the 409 safety_rule and exits 1; with
 * it the action is done and printed as BREAK GLASS; --break-glass without --force is a usage error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { adminTokens, OPERATOR } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { STEADY_CHECKS } from './helpers/steady-checks.js';

let ups: Upstream[], p: TestProxy;

beforeAll(async () => {
  ups = await Promise.all(['a1', 'a2', 'b1'].map((n) => startUpstream(n)));
  const sites = [
    { name: 'a1', region: 'A', backends: [ups[0]!.url] },
    { name: 'a2', region: 'A', backends: [ups[1]!.url] },
    { name: 'b1', region: 'B', backends: [ups[2]!.url] },
  ];
  p = await startProxy({ admin: adminTokens(), defaults: { health_check: STEADY_CHECKS }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites, safety: { min_available_sites: 2, failure_domain: 'region' } } } });
  await sitesHealthy(p);
});

afterAll(async () => {
  await p?.stop();
  await stopAll(...(ups ?? []));
});

const cli = (...args: string[]) => runCli([...args, '--admin', p.adminUrl], { DRPROXY_TOKEN: OPERATOR });

describe('CLI --break-glass', () => {
  it('failover: refused (exit 1, safety_rule), usage error without --force, done with --force --break-glass', async () => {
    const refused = await cli('failover', 't', '--to', 'a2', '--reason', 'move within A', '--force');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('409 safety_rule');
    expect(refused.stderr).toContain('failure_domain');
    expect((await cli('failover', 't', '--to', 'a2', '--reason', 'x', '--break-glass')).code).toBe(2);
    const done = await cli('failover', 't', '--to', 'a2', '--reason', 'region B rebuilt', '--force', '--break-glass');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/failover t: a1 → a2, .* BREAK GLASS \(failure_domain\)/);
    expect((await cli('status', 't')).stdout).toContain('routed (BREAK GLASS)');
  });

  it('fence: refused by min_available_sites, done with --break-glass', async () => {
    // a2 active, a1 fenced: fencing b1 would leave one site able to take traffic.
    const refused = await cli('fence', 't', 'b1', '--reason', 'maintenance');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('min_available_sites');
    const done = await cli('fence', 't', 'b1', '--reason', 'maintenance', '--break-glass');
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('fenced sites: a1, b1');
  });
});
