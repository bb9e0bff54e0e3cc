/**
 * A reload that rebuilds a tenant (its settings changed) keeps the tenant's flip history
 * (failover/carry-over.ts): min_interval still counts from the last flip, and the auto
 * failback hold-down (failback_after) still counts from when the preferred site came back.
 * Before, the new controller started with no last flip (a freeze or a failback right after a
 * reload was not spaced by min_interval) and restarted every hold-down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { parseConfigText } from '../src/config/index.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const PROBES = { interval: '100ms', timeout: '80ms', rise: 2, fall: 2, jitter: 0 };

let ups: Upstream[] = [];
let p: TestProxy | undefined;

afterEach(async () => {
  await p?.stop();
  await stopAll(...ups);
  p = undefined;
  ups = [];
});

function doc(failover: Record<string, unknown>, proxy: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    defaults: { health_check: PROBES, passive_health: { consecutive_failures: 0 }, failover: { mode: 'auto', ...failover }, proxy },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: ups.map((u) => ({ name: u.site, backends: [u.url] })) } },
  };
}

/** Reload the tenant with a changed setting (proxy.max_retries): it is rebuilt. */
async function reloadChanged(px: TestProxy, failover: Record<string, unknown>): Promise<void> {
  const before = px.proxy.tenant('t')!;
  const { config } = parseConfigText(stringify(await testConfigDoc(doc(failover, { max_retries: 1 }), px.stateDir)), 'test.yaml', tmpdir());
  const r = await px.proxy.apply(config);
  expect(r).toMatchObject({ ok: true, changed: ['t'] });
  expect(px.proxy.tenant('t')).not.toBe(before);
}

const available = (px: TestProxy, site: string) => px.proxy.tenant('t')!.site(site)!.health().available;

describe('reload keeps the flip history of a rebuilt tenant', () => {
  // Rule 3 (decide.ts): after a health failover a1 → b1 (a1 fenced), b1 fails within min_interval
  // with no site to go to: the no_site freeze waits for min_interval (requests held); a site that
  // can take traffic (c1) meanwhile is flipped to at once. The same with and without a reload.
  it.each([false, true])('a failure of the new active site within min_interval behaves as without a reload (reload: %s)', async (reload) => {
    ups = await Promise.all(['a1', 'b1', 'c1'].map((s) => startUpstream(s)));
    const [a1, b1, c1] = ups as [Upstream, Upstream, Upstream];
    await c1.setHealth(503); // c1 cannot take traffic yet
    const failover = { failback: 'manual', min_interval: '5s' };
    const stateDir = await tempDir();
    p = await startProxy(doc(failover), { stateDir });
    const px = p;
    await waitFor(() => available(px, 'a1') && available(px, 'b1'), { what: 'a1 and b1 healthy' });
    await a1.setHealth(503);
    await waitFor(() => px.proxy.tenant('t')!.state.active === 'b1' && px.proxy.tenant('t')!.state.phase === 'active', { what: 'failover to b1' });
    const flipAt = px.proxy.tenant('t')!.lastFlipAt;
    expect(px.proxy.tenant('t')!.state.fenced).toEqual(['a1']);
    if (reload) {
      await reloadChanged(px, failover);
      expect(px.proxy.tenant('t')!.lastFlipAt).toBe(flipAt);
    }
    await b1.setHealth(503);
    await waitFor(() => !available(px, 'b1'), { what: 'b1 unavailable' });
    const t = px.proxy.tenant('t')!;
    // No site to go to: held, not frozen, while min_interval since the flip runs.
    await waitFor(() => px.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('freezing in')), { what: 'the freeze put off by min_interval' });
    expect(Date.now()).toBeLessThan(flipAt + 5000);
    expect(t.state).toMatchObject({ phase: 'active', active: 'b1' });
    // A site that can take traffic: flipped to at once, inside min_interval.
    await c1.setHealth(200);
    await waitFor(() => t.state.active === 'c1' && t.state.phase === 'active', { what: 'failover to c1' });
    expect(t.lastFlipAt).toBeLessThan(flipAt + 5000);
    expect(px.logs.filter((l) => l.event === 'frozen')).toEqual([]);
  });

  it('the auto failback hold-down keeps counting across a reload', async () => {
    ups = await Promise.all(['a1', 'b1'].map((s) => startUpstream(s)));
    const [a1] = ups as [Upstream, Upstream];
    const failover = { failback: 'auto', failback_after: '3s', min_interval: '0s' };
    const stateDir = await tempDir();
    p = await startProxy(doc(failover), { stateDir });
    const px = p;
    await waitFor(() => available(px, 'a1') && available(px, 'b1'), { what: 'a1 and b1 healthy' });
    await a1.setHealth(503);
    await waitFor(() => px.proxy.tenant('t')!.state.active === 'b1', { what: 'failover to b1' });
    await a1.setHealth(200);
    const since = await waitFor(() => px.proxy.tenant('t')!.availability.of('a1'), { what: 'a1 available again' });
    // A second into the hold-down, the tenant is rebuilt.
    await waitFor(() => Date.now() >= since + 1000, { what: 'a second of the hold-down' });
    const reloadAt = Date.now();
    await reloadChanged(px, failover);
    const t = px.proxy.tenant('t')!;
    expect(t.availability.of('a1')).toBe(since);
    await waitFor(() => t.state.active === 'a1', { what: 'auto failback', timeout: 8000 });
    const back = t.flips.at(-1)!;
    expect(back).toMatchObject({ trigger: 'failback', to: 'a1', result: 'routed' });
    // Due failback_after after a1 came back, not failback_after after the reload.
    expect(t.lastFlipAt).toBeGreaterThanOrEqual(since + 3000);
    expect(t.lastFlipAt).toBeLessThan(reloadAt + 3000);
  });
});
