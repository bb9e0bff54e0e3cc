/**
 * Issue 16, item 17: an automatic failback is a move away from a site that is fine. When one of
 * its required hooks fails before anything was done to that site (the promote hook of the
 * preferred site, with no fence hook on the old one; or the old site's own fence hook), the
 * tenant stays on the old site at the new epoch instead of freezing; the next try waits for the
 * hold-down and min_interval again, so a hook that keeps failing does not make a loop of flips.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';
import type { TenantState } from '../src/state/types.js';

let primary: Upstream | undefined, backup: Upstream | undefined;
let failing: HookServer | undefined;
let p: TestProxy | undefined;
let states: TenantState[] = [];

afterEach(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  await failing?.close();
  p = primary = backup = failing = undefined;
});

async function setUp(hooks: (url: string) => { a1?: Record<string, unknown>; b1?: Record<string, unknown> }): Promise<TestProxy> {
  states = [];
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  failing = await startHookServer(500);
  const h = hooks(failing.url);
  p = await startProxy(
    {
      defaults: { health_check: FAST_CHECKS, failover: { failback: 'auto', failback_after: '1s', min_interval: '0s' } },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: [primary.url], ...h.a1 },
            { name: 'b1', backends: [backup.url], ...h.b1 },
          ],
        },
      },
    },
    { controllerHooks: { onState: (s) => void states.push(s) } },
  );
  await sitesHealthy(p, 't');
  return p;
}

async function site(proxy: TestProxy): Promise<string | undefined> {
  const r = await request(`${proxy.url}/`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return r.statusCode === 200 ? (r.headers['x-site'] as string) : `status ${r.statusCode}`;
}

/** Fail over to b1, bring a1 back, and let auto failback try (and fail) for a while. */
async function failbackFails(proxy: TestProxy): Promise<void> {
  const t = proxy.proxy.tenant('t')!;
  await primary!.setHealth(503);
  await waitFor(() => t.state.active === 'b1' && t.state.phase === 'active', { what: 'failover to b1' });
  await primary!.setHealth(200);
  const first = await waitFor(() => t.flips.find((f) => f.trigger === 'failback'), { what: 'a failback', timeout: 5000 });
  expect(first).toMatchObject({ from: 'b1', to: 'a1', result: 'stayed' });
  // Traffic stays on b1, and a second try comes no sooner than failback_after (min_interval is 0).
  const triedAt = first.timings.routedAt;
  await waitFor(() => Date.now() - triedAt > 2500, { what: '2.5 s after the first try', interval: 100 });
  expect(await site(proxy)).toBe('b1');
  const tries = t.flips.filter((f) => f.trigger === 'failback');
  expect(tries.every((f) => f.result === 'stayed')).toBe(true);
  expect(tries.length).toBeLessThanOrEqual(3);
  for (let i = 1; i < tries.length; i++) expect(tries[i]!.timings.trippedAt - tries[i - 1]!.timings.routedAt).toBeGreaterThanOrEqual(1000 - 10);
  expect(t.state).toMatchObject({ phase: 'active', active: 'b1', fenced: ['a1'] });
  expect(states.filter((s) => s.phase === 'frozen')).toEqual([]);
}

describe('an automatic failback whose required hook fails', () => {
  it("stays on the old site when the preferred site's promote hook fails", async () => {
    const proxy = await setUp((url) => ({ a1: { promote: { url: `${url}/promote-a1`, required: true, timeout: '1s' } } }));
    await failbackFails(proxy);
  }, 30_000);

  it("stays on the old site when the old site's own fence hook fails", async () => {
    const proxy = await setUp((url) => ({ b1: { fence: { url: `${url}/fence-b1`, required: true, timeout: '1s' } } }));
    await failbackFails(proxy);
  }, 30_000);
});
