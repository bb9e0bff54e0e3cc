/**
 * Issue 16, item 17: `failback: auto` with a flapping primary (down 300 ms, up 450 ms: up a
 * little longer than failback_after, so that failbacks do happen while it flaps),
 * `failback_after: 300ms`, `min_interval: 3s`, under a steady request load. The tenant must never
 * be frozen while a site can take traffic, no client may get an error (drproxy's 503s included),
 * and automatic failbacks must be spaced by min_interval. The primary flaps in its health answer,
 * then for real (killed and restarted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { startLoad } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';
import type { TenantState } from '../src/state/types.js';

let primary: Upstream | undefined, backup: Upstream | undefined;
let p: TestProxy | undefined;
let states: TenantState[] = [];

afterEach(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  p = primary = backup = undefined;
});

async function setUp(): Promise<TestProxy> {
  states = [];
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy(
    {
      defaults: {
        health_check: { interval: '50ms', timeout: '40ms', rise: 2, fall: 2, jitter: 0 },
        // hold_requests below min_interval: a tenant that waits out min_interval while its active
        // site is down answers 503 to the requests it held.
        failover: { failback: 'auto', failback_after: '300ms', min_interval: '3s', hold_requests: '2s' },
      },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: [primary.url] },
            // The standby's own checks are lenient: it stays available on a loaded machine.
            { name: 'b1', backends: [backup.url], health_check: { interval: '200ms', timeout: '150ms', fall: 4 } },
          ],
        },
      },
    },
    { controllerHooks: { onState: (s) => void states.push(s) } },
  );
  await sitesHealthy(p, 't');
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Flap the primary for 9 s under load, then let it stay up; check what clients and the tenant went through. */
async function flapUnderLoad(proxy: TestProxy, down: () => Promise<void>, up: () => Promise<void>): Promise<void> {
  const t = proxy.proxy.tenant('t')!;
  const load = startLoad({ url: proxy.url, host: 't.example.com', rate: 100, maxMs: 20_000 });
  const flapUntil = Date.now() + 9_000;
  while (Date.now() < flapUntil) {
    await down();
    await sleep(300);
    await up();
    await sleep(450);
  }
  // Once the primary stays healthy, auto failback brings the tenant home.
  await waitFor(() => t.state.active === 'a1' && t.state.phase === 'active' && t.site('a1')!.health().available, { what: 'failback to a1', timeout: 8000 });
  const samples = await load.stop();

  const frozen = states.filter((s) => s.phase === 'frozen');
  expect(frozen, `frozen states: ${JSON.stringify(frozen)}`).toEqual([]);
  const errors = samples.filter((s) => s.status !== 200);
  const byStatus: Record<string, number> = {};
  for (const s of errors) byStatus[s.status || s.error!] = (byStatus[s.status || s.error!] ?? 0) + 1;
  expect(byStatus, `${errors.length} of ${samples.length} requests failed`).toEqual({});
  expect(samples.length).toBeGreaterThan(500);

  // Failbacks respect min_interval: each one starts at least 3 s after the flip before it.
  const flips = t.flips;
  expect(flips.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < flips.length; i++) {
    if (flips[i]!.trigger !== 'failback') continue;
    expect(flips[i]!.timings.trippedAt - flips[i - 1]!.timings.routedAt).toBeGreaterThanOrEqual(3000 - 10);
  }
  // Epochs never go backwards.
  const epochs = states.map((s) => s.epoch);
  for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThanOrEqual(epochs[i - 1]!);
}

describe('auto failback with a flapping primary, under load', () => {
  it('health answer flapping: never freezes, no request fails, failbacks spaced by min_interval', async () => {
    const proxy = await setUp();
    await flapUnderLoad(proxy, () => primary!.setHealth(503), () => primary!.setHealth(200));
  }, 40_000);

  it('process killed and restarted: never freezes, no request fails, failbacks spaced by min_interval', async () => {
    const proxy = await setUp();
    await flapUnderLoad(proxy, () => primary!.kill('SIGKILL'), () => primary!.restart());
  }, 40_000);
});
