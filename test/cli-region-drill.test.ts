/** `drproxy drill --region R` against a running proxy (the built CLI, as a shell runs it). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { waitFor } from './helpers/poll.js';
import type { RegionDrillReport } from '../src/drill/types.js';

let a: Upstream, b: Upstream;
let p: TestProxy;
const TENANTS = ['r1', 'r2', 'r3'];

beforeAll(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  const tenants = Object.fromEntries(TENANTS.map((t) => [t, { tier: 'BC', hosts: [`${t}.example.com`], sites: [{ name: 'a', region: 'A', backends: [a.url] }, { name: 'b', region: 'B', backends: [b.url] }] }]));
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '1s' } },
    drills: { dwell: '1s', verify: { interval: '20ms', timeout: '5s' } },
    tenants,
  });
  await waitFor(() => [...p.proxy.controllers.values()].every((c) => c.sites.every((s) => s.health().available)), { what: 'every site healthy' });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a, b);
});

const as = (token: string) => ['--admin', p.adminUrl, '--token', token];

describe('drproxy drill --region', () => {
  it('drills every tenant active in the region, waits, prints the summary; exit 0 when all passed', async () => {
    const r = await runCli(['drill', '--region', 'A', '--parallel', '2', '--dwell', '100ms', '--reason', 'annual test', ...as(OPERATOR)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/region drill region-\S+: PASSED/);
    expect(r.stdout).toMatch(/3 tenant\(s\): 3 passed, 0 not; slowest r\d \(\d+ ms\)/);
    for (const t of TENANTS) expect(r.stdout).toMatch(new RegExp(`^${t}\\s+passed\\s+\\d+ ms\\s+900\\.0 s`, 'm'));
    expect(r.stderr).toMatch(/running, 2 tenant\(s\) at a time/);
    const id = /region drill (region-\S+): PASSED/.exec(r.stdout)![1]!;
    const show = await runCli(['drills', 'show', id, ...as(VIEWER)]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`region drill ${id}: PASSED`);
  }, 60_000);

  it('--no-wait --json prints the start answer; the summary follows', async () => {
    const r = await runCli(['drill', '--region', 'A', '--dwell', '0s', '--reason', 'x', '--no-wait', '--json', ...as(OPERATOR)]);
    expect(r.code, r.stderr).toBe(0);
    const started = JSON.parse(r.stdout) as { id: string; location: string; parallel: number };
    expect(started).toMatchObject({ location: `/drills/${started.id}`, parallel: 10 });
    const final = await p.proxy.fleetDrills!.regions.done(started.id);
    expect((final as RegionDrillReport).tenants).toHaveLength(3);
  }, 60_000);

  it('usage errors exit 2; an unknown region exits 1 with the reason', async () => {
    expect((await runCli(['drill', '--region', 'A', ...as(OPERATOR)])).code).toBe(2);
    expect((await runCli(['drill', '--region', 'A', '--parallel', '0', '--reason', 'x', ...as(OPERATOR)])).code).toBe(2);
    expect((await runCli(['drill', 'r1', '--region', 'A', '--reason', 'x', ...as(OPERATOR)])).code).toBe(2);
    expect((await runCli(['drill', '--parallel', '3', '--reason', 'x', ...as(OPERATOR)])).code).toBe(2);
    const none = await runCli(['drill', '--region', 'Z', '--reason', 'x', ...as(OPERATOR)]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/404 not_found: no tenant's active site is in region "Z"/);
  }, 30_000);
});
