/**
 * The readiness monitor (src/failover/readiness-monitor.ts) against real hook servers
 * (helpers/hook-server.ts):
 *  - with an injected scheduler (no sleeps): each configured fence and promote hook gets a POST
 *    {action: "check", tenant, site, epoch} (the current epoch, no reason) when its timer fires,
 *    the next call is scheduled only after the answer, at hook_check_interval ± 10 %, a check
 *    asked for while one is in flight joins it (never two calls at once to one hook), none starts
 *    while the tenant is failing over, stop() leaves no timer, and hook_check_interval 0 sends
 *    nothing;
 *  - in a running drproxy (real timers): a hook that goes away makes its site not ready
 *    (fence_hook_unreachable, promote_hook_unreachable) within a polled deadline, and ready again
 *    when it comes back; a hook slower than the interval is never called twice at once; a
 *    reload keeps the last answers of hooks that did not change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateConfig } from '../src/config/index.js';
import type { TenantConfig } from '../src/config/types.js';
import { ReadinessMonitor } from '../src/failover/readiness-monitor.js';
import { createLogger } from '../src/log.js';
import type { TenantState } from '../src/state/types.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { FAST_CHECKS, sitesHealthy, startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

const silent = createLogger({ level: 'silent', destination: { write: () => {} } });

function tenant(hooks: { fence: string; promote: string }, interval: string): TenantConfig {
  const { config, problems } = validateConfig(
    {
      defaults: { failover: { hook_check_interval: interval } },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: ['http://127.0.0.1:1'], fence: { url: `${hooks.fence}/dr/fence` } },
            { name: 'b1', backends: ['http://127.0.0.2:1'], promote: { url: `${hooks.promote}/dr/promote`, timeout: '2s' } },
          ],
        },
      },
    },
    { baseDir: '/tmp' },
  );
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!.tenants[0]!;
}

const STATE: TenantState = { tenant: 't', epoch: 7, phase: 'active', active: 'a1', fenced: [], trigger: 'startup', reason: 'test', updated_at: '' };

describe('readiness monitor with an injected scheduler', () => {
  let hook: HookServer;
  beforeAll(async () => {
    hook = await startHookServer(200);
  });
  afterAll(async () => {
    await hook?.close();
  });

  it('checks every hook when its timer fires, then schedules the next at the interval ± 10 %, and stop() leaves no timer', async () => {
    const scheduler = new ManualScheduler();
    const m = new ReadinessMonitor({ config: tenant({ fence: hook.url, promote: hook.url }, '30s'), sites: [], state: () => STATE, now: Date.now, scheduler, log: silent });
    m.start();
    const first = [...scheduler.pending.values()].map((t) => t.ms);
    expect(first).toHaveLength(2);
    for (const ms of first) expect(ms).toBeGreaterThanOrEqual(0), expect(ms).toBeLessThan(3000);
    expect(hook.checks).toEqual([]);
    expect(m.checks('a1')).toEqual({});

    scheduler.fireAll();
    await waitFor(() => m.checks('a1').fence && m.checks('b1').promote, { what: 'both check answers' });
    const bodies = hook.checks.map((c) => [c.path, c.body]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(bodies).toEqual([
      ['/dr/fence', { action: 'check', tenant: 't', site: 'a1', epoch: 7 }],
      ['/dr/promote', { action: 'check', tenant: 't', site: 'b1', epoch: 7 }],
    ]);
    expect(m.checks('a1').fence).toMatchObject({ ok: true });
    expect(m.checks('b1')).toEqual({ promote: expect.objectContaining({ ok: true }) });
    // The next calls are scheduled after the answers, one per hook, 27 s to 33 s away.
    await waitFor(() => scheduler.pending.size === 2, { what: 'next checks scheduled' });
    for (const t of scheduler.pending.values()) expect(t.ms).toBeGreaterThanOrEqual(27_000), expect(t.ms).toBeLessThanOrEqual(33_000);

    hook.status = 503;
    scheduler.fireAll();
    await waitFor(() => m.checks('a1').fence?.ok === false && m.checks('b1').promote?.ok === false, { what: 'failed checks' });
    expect(m.checks('a1').fence).toMatchObject({ ok: false, error: 'status 503' });
    hook.status = 200;

    m.stop();
    expect(scheduler.pending.size).toBe(0);
    const n = hook.checks.length;
    await m.refresh();
    expect(hook.checks.length).toBe(n);
  });

  it('a check asked for while one is in flight joins it: never two calls at once to one hook', async () => {
    const slow = await startHookServer(200, 300);
    try {
      const scheduler = new ManualScheduler();
      const m = new ReadinessMonitor({ config: tenant({ fence: slow.url, promote: slow.url }, '30s'), sites: [], state: () => STATE, now: Date.now, scheduler, log: silent });
      m.start();
      scheduler.fireAll(); // both hooks' calls start
      await Promise.all([m.refresh('a1'), m.refresh('a1'), m.refresh()]);
      expect(slow.checks.filter((c) => c.path === '/dr/fence')).toHaveLength(1);
      expect(slow.checks.filter((c) => c.path === '/dr/promote')).toHaveLength(1);
      // Once answered, refresh() calls again (a preflight's fresh answer), still one at a time.
      await m.refresh('a1');
      expect(slow.checks.filter((c) => c.path === '/dr/fence')).toHaveLength(2);
      expect(slow.maxInflight).toBe(2); // one per hook, never two for one
      m.stop();
    } finally {
      await slow.close();
    }
  });

  it('no check starts while the tenant is failing over (the flip calls its hooks for real); the next turn is kept', async () => {
    const scheduler = new ManualScheduler();
    let state: TenantState = { ...STATE, phase: 'failing_over', epoch: 8 };
    const m = new ReadinessMonitor({ config: tenant({ fence: hook.url, promote: hook.url }, '30s'), sites: [], state: () => state, now: Date.now, scheduler, log: silent });
    const n = hook.checks.length;
    m.start();
    scheduler.fireAll();
    await m.refresh();
    expect(hook.checks.length).toBe(n);
    expect(scheduler.pending.size).toBe(2);
    state = { ...STATE, epoch: 8 };
    scheduler.fireAll();
    await waitFor(() => hook.checks.length === n + 2, { what: 'checks after the flip' });
    expect(hook.checks.slice(n).map((c) => c.body.epoch)).toEqual([8, 8]);
    m.stop();
  });

  it('hook_check_interval 0 sends no check at all', async () => {
    const scheduler = new ManualScheduler();
    const m = new ReadinessMonitor({ config: tenant({ fence: hook.url, promote: hook.url }, '0s'), sites: [], state: () => STATE, now: Date.now, scheduler, log: silent });
    const n = hook.checks.length;
    m.start();
    expect(scheduler.pending.size).toBe(0);
    await m.refresh();
    expect(hook.checks.length).toBe(n);
    expect(m.checks('a1')).toEqual({});
    m.stop();
  });
});

describe('readiness monitor in a running drproxy', () => {
  let a1: Upstream, b1: Upstream;
  let fence: HookServer, promote: HookServer;
  let p: TestProxy;
  let doc: Record<string, unknown>;
  let configFile: string;

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    [fence, promote] = await Promise.all([startHookServer(200), startHookServer(200, 250)]);
    doc = {
      defaults: { health_check: FAST_CHECKS, failover: { mode: 'manual', hook_check_interval: '100ms' } },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: [a1.url], fence: { url: `${fence.url}/dr/fence` } },
            { name: 'b1', backends: [b1.url], fence: { url: `${fence.url}/dr/fence` }, promote: { url: `${promote.url}/dr/promote` } },
          ],
        },
      },
    };
    configFile = join(await tempDir('drproxy-cfg-'), 'drproxy.yaml');
    p = await startProxy(doc, { configFile });
    await sitesHealthy(p, 't');
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
    await fence?.close();
    await promote?.close();
  });

  it('sends check calls with the tenant epoch to every hook, and the standby is ready', async () => {
    const t = p.proxy.tenant('t')!;
    await waitFor(() => t.hookChecks('b1').fence?.ok && t.hookChecks('b1').promote?.ok && t.hookChecks('a1').fence?.ok, { what: 'first check answers' });
    const sites = new Set(fence.checks.map((c) => c.body.site));
    expect(sites).toEqual(new Set(['a1', 'b1']));
    for (const c of [...fence.checks, ...promote.checks]) expect(c.body).toMatchObject({ action: 'check', tenant: 't', epoch: t.state.epoch });
    expect(t.readiness('b1')).toEqual({ site: 'b1', ready: true, reasons: [] });
    expect([...fence.calls, ...promote.calls]).toEqual([]); // no fence, no promote: only checks
  });

  it('a hook slower than the interval is never called twice at once', async () => {
    const n = promote.checks.length;
    await waitFor(() => promote.checks.length >= n + 3, { what: 'three more promote checks' });
    expect(promote.maxInflight).toBe(1);
  });

  it('a hook that goes away makes its site not ready, and ready again when it comes back', async () => {
    const t = p.proxy.tenant('t')!;
    const port = fence.port;
    await fence.close();
    await waitFor(() => !t.readiness('b1').ready && !t.readiness('a1').ready, { timeout: 5000, what: 'a1 and b1 not ready' });
    const r = t.readiness('b1');
    expect(r.reasons.map((x) => x.code)).toEqual(['fence_hook_unreachable']);
    expect(r.reasons[0]!.message).toMatch(/^its fence hook failed its check call: .*ECONNREFUSED/);
    expect(t.readiness('a1').reasons.map((x) => x.code)).toEqual(['fence_hook_unreachable']);
    expect(p.logs.some((l) => l.level === 'warn' && /fence hook of site b1 failed its check call/.test(String(l.msg)))).toBe(true);

    fence = await startHookServer(200, 0, port);
    await waitFor(() => t.readiness('b1').ready && t.readiness('a1').ready, { timeout: 5000, what: 'b1 and a1 ready again' });
    expect(fence.checks.every((c) => c.body.action === 'check')).toBe(true);
  });

  it('a reload keeps the last answers of unchanged hooks', async () => {
    await fence.close();
    const before = p.proxy.tenant('t')!;
    await waitFor(() => before.hookChecks('b1').fence?.ok === false, { timeout: 5000, what: 'fence check failed' });
    // A slower interval: the new controller would not check again for 30 s, so what it shows at once is carried over.
    const next = { ...doc, defaults: { health_check: FAST_CHECKS, failover: { mode: 'manual', hook_check_interval: '30s' } } };
    await writeFile(configFile, stringify(await testConfigDoc(next, p.stateDir)));
    const res = await p.proxy.reload();
    expect(res).toMatchObject({ ok: true });
    const after = p.proxy.tenant('t')!;
    expect(after).not.toBe(before);
    // Answers from before the reload (a check of the new controller would be dated after it).
    expect(after.hookChecks('b1').fence).toMatchObject({ ok: false });
    // The old controller's answers as they were at the swap: no later than its own last ones (a
    // check of its that ended during the reload, before the swap, is carried over too); a new
    // controller's own check would be dated after the swap, later than the old one's last.
    for (const hook of ['fence', 'promote'] as const) {
      expect(after.hookChecks('b1')[hook]!.at, hook).toBeLessThanOrEqual(before.hookChecks('b1')[hook]!.at);
    }
    expect(after.readiness('b1').reasons.map((x) => x.code)).toEqual(['fence_hook_unreachable']);
    expect(after.hookChecks('b1').promote).toMatchObject({ ok: true });
  });
});
