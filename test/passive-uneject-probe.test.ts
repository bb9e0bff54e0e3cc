/**
 * passive_health.uneject_on_probe_success (on by default, as Envoy's
 * successful_active_health_check_uneject_host): an ejected backend whose active check is up and
 * passes a probe sent after its ejection is let back at once, not after its back-off. Before,
 * a primary that answered 503 and was fixed stayed `up+ejected` for the rest of its back-off:
 * its site counted as unavailable and a failback to it was refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { isEjected, newEjectable, probeUnejects, tryEject } from '../src/health/outlier.js';
import { DEFAULT_PASSIVE_HEALTH } from '../src/config/defaults.js';
import { validateConfig } from '../src/config/index.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const PROBES = { interval: '200ms', timeout: '150ms', rise: 3, fall: 2, jitter: 0 };
/** Far longer than the test: only a probe can end these ejections. */
const LONG_EJECTION = { consecutive_failures: 3, base_ejection: '30s', max_ejection: '1m' };

let primary: Upstream | undefined, backup: Upstream | undefined;
let p: TestProxy | undefined;

afterEach(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  p = primary = backup = undefined;
});

async function setup(passive: Record<string, unknown>): Promise<TestProxy> {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: PROBES, passive_health: { ...LONG_EJECTION, ...passive }, failover: { mode: 'auto', failback: 'manual', min_interval: '0s' } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
  return p;
}

async function get(url: string): Promise<number> {
  const r = await request(`${url}/x`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return r.statusCode;
}

/** Answer 503 to traffic and probes until a1's backend is ejected and the tenant is on b1. */
async function breakPrimary(px: TestProxy): Promise<void> {
  await primary!.setMode(503);
  await primary!.setHealth(503);
  const t = px.proxy.tenant('t')!;
  const a1 = t.site('a1')!.backends[0]!;
  await waitFor(async () => {
    if (!isEjected(a1.passive, Date.now())) await get(px.url);
    return isEjected(a1.passive, Date.now()) && t.state.active === 'b1';
  }, { what: 'a1 ejected and the tenant on b1', timeout: 5000 });
  await waitFor(() => a1.health.check.state === 'down', { what: 'a1 active check down' });
}

describe('passive_health.uneject_on_probe_success', () => {
  it('is on by default and takes true or false, naming the path otherwise', () => {
    expect(DEFAULT_PASSIVE_HEALTH.uneject_on_probe_success).toBe(true);
    const doc = (v: unknown) => ({ defaults: { passive_health: { uneject_on_probe_success: v } }, tenants: { t: twoSiteTenant('t.example.com', { url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }) } });
    expect(validateConfig(doc(false), { baseDir: '/' }).config!.tenants[0]!.passive_health.uneject_on_probe_success).toBe(false);
    expect(validateConfig(doc(true), { baseDir: '/' }).config!.tenants[0]!.passive_health.uneject_on_probe_success).toBe(true);
    const bad = validateConfig(doc('yes'), { baseDir: '/' });
    expect(bad.problems).toContainEqual(expect.objectContaining({ path: 'defaults.passive_health.uneject_on_probe_success', severity: 'error' }));
  });

  it('only a passing probe sent after the ejection, with the check up, ends it; the back-off count is kept', () => {
    const e = newEjectable();
    const cfg = { ...DEFAULT_PASSIVE_HEALTH, base_ejection: 1000, max_ejection: 8000 };
    expect(tryEject(cfg, e, [e], 10_000)).toBe(1000);
    // Sent before the ejection (a loop probe in flight while slow answers were confirmed): no.
    expect(probeUnejects(e, { ok: true, at: 10_050, durationMs: 100 }, true, 10_050)).toBe(false);
    // Failed, inconclusive, or the check still down (rising): no.
    expect(probeUnejects(e, { ok: false, at: 10_200, durationMs: 100 }, true, 10_200)).toBe(false);
    expect(probeUnejects(e, { ok: true, inconclusive: true, at: 10_200, durationMs: 100 }, true, 10_200)).toBe(false);
    expect(probeUnejects(e, { ok: true, at: 10_200, durationMs: 100 }, false, 10_200)).toBe(false);
    expect(probeUnejects(e, { ok: true, at: 10_200, durationMs: 100 }, true, 10_200)).toBe(true);
  });

  it('a fixed primary is let back at its first passing probe once its check has risen: site available, failback accepted', async () => {
    const px = await setup({});
    const t = px.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await breakPrimary(px);
    const ejectedUntil = a1.passive.ejectedUntil;
    await primary!.setMode(0);
    await primary!.setHealth(200);
    await waitFor(() => !isEjected(a1.passive, Date.now()), { what: 'a1 let back by its probes', timeout: 5000 });
    // Long before its back-off would have ended.
    expect(ejectedUntil - Date.now()).toBeGreaterThan(20_000);
    // It rose first (rise passes in a row): the ejection ended with the probe that brought it up, not before.
    const upAt = px.logs.findIndex((l) => l.msg === 'backend up' && l.site === 'a1');
    const backAt = px.logs.findIndex((l) => l.msg === 'backend back from ejection' && l.site === 'a1');
    expect(upAt).toBeGreaterThanOrEqual(0);
    expect(backAt).toBeGreaterThan(upAt);
    expect(px.logs[backAt]).toMatchObject({ by: 'probe' });
    expect(t.site('a1')!.health().available).toBe(true);
    const r = await t.failback({ reason: 'a1 repaired', actor: 'test' });
    expect(r).toMatchObject({ from: 'b1', to: 'a1', result: 'routed' });
    expect(await get(px.url)).toBe(200);
    expect(a1.passive.ejections).toBe(1); // the count that doubles the next back-off is kept
  });

  it('a backend ejected while its probes pass is let back at its next probe', async () => {
    const px = await setup({});
    const t = px.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await primary!.setMode(503); // traffic only: the probes still pass
    await waitFor(async () => {
      await get(px.url);
      return isEjected(a1.passive, Date.now());
    }, { what: 'a1 ejected', timeout: 5000 });
    const at = Date.now();
    await primary!.setMode(0);
    await waitFor(() => !isEjected(a1.passive, Date.now()), { what: 'a1 let back at its next probe', timeout: 3000 });
    expect(Date.now() - at).toBeLessThan(2000);
    expect(a1.health.check.state).toBe('up');
  });

  it('false: the ejection lasts its back-off although the probes pass, and the failback is refused meanwhile', async () => {
    const px = await setup({ uneject_on_probe_success: false });
    const t = px.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await breakPrimary(px);
    await primary!.setMode(0);
    await primary!.setHealth(200);
    await waitFor(() => a1.health.check.state === 'up', { what: 'a1 active check up' });
    // Several passing probes later, still ejected.
    const probes = (await primary!.stats()).healthAt.length;
    await waitFor(async () => (await primary!.stats()).healthAt.length >= probes + 3, { what: 'three more probes' });
    expect(isEjected(a1.passive, Date.now())).toBe(true);
    expect(t.site('a1')!.health().available).toBe(false);
    await expect(t.failback({ reason: 'a1 repaired', actor: 'test' })).rejects.toMatchObject({ code: 'DRP_CONFLICT' });
  });
});
