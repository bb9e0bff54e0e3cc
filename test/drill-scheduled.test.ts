/**
 * Scheduled drills through a real drproxy (real timers, real upstreams): a schedule with no
 * window and `every: 1m` drills tenant t as soon as its health has settled, as the scheduler,
 * and it passes; tenant u, whose standby is down (an alert is firing: a site not ready), is
 * skipped with the reason stored. A restart on the same state directory reads the last
 * scheduled drills back: nothing is drilled again before `every` has passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, tempDir, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

let a: Upstream, b: Upstream;
let p: TestProxy | undefined;
let stateDir: string;

const doc = (): Record<string, unknown> => ({
  defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s', drain_timeout: '1s' } },
  drills: { dwell: '100ms', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' }, schedules: [{ tenants: ['t', 'u'], every: '1m' }] },
  tenants: {
    t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: [a.url] }, { name: 'b', backends: [b.url] }] },
    // Its standby refuses connections: never ready, so its scheduled drill is skipped.
    u: { tier: 'BC', hosts: ['u.example.com'], failover: { mode: 'manual' }, sites: [{ name: 'a', backends: [a.url] }, { name: 'b', backends: ['http://127.0.0.2:1'] }] },
  },
});

beforeAll(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  stateDir = await tempDir();
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a, b);
});

async function reports(proxy: TestProxy, tenant: string): Promise<DrillReport[]> {
  const s = proxy.proxy.drills!;
  const list = await s.list({ tenant });
  return (await Promise.all(list.map((e) => s.get(e.id)))) as DrillReport[];
}

describe('scheduled drills', () => {
  it('drills a due tenant as the scheduler, skips one with an alert firing (reason stored), and remembers both across a restart', async () => {
    p = await startProxy(doc(), { stateDir });
    const passed = await waitFor(async () => (await reports(p!, 't')).find((r) => r.status === 'passed'), { timeout: 20_000, what: "t's scheduled drill to pass" });
    expect(passed).toMatchObject({ trigger: 'schedule', actor: 'scheduler', reason: 'scheduled drill (drills.schedules[0])', from: 'a', to: 'b' });
    expect(passed.measured_rto_ms).toBeGreaterThan(0);
    const skipped = await waitFor(async () => (await reports(p!, 'u')).find((r) => r.status === 'skipped'), { what: "u's scheduled drill to be skipped" });
    expect(skipped).toMatchObject({ trigger: 'schedule', actor: 'scheduler', tenant: 'u' });
    expect(skipped.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'alert_not_ready_unavailable', site: 'b' })]));
    // u was never failed over.
    expect(p.proxy.tenant('u')!.flips).toHaveLength(0);
    // Each next drill is due a minute after the last one started (the scheduler's clock reading
    // when it fired, a few ms before the report's start).
    const next = await waitFor(() => (p!.proxy.fleetDrills!.scheduler.upcoming().size === 2 ? p!.proxy.fleetDrills!.scheduler.upcoming() : undefined), { what: 'both next starts planned' });
    for (const [t, r] of [['t', passed], ['u', skipped]] as const) {
      expect(Date.parse(r.started_at) + 60_000 - next.get(t)!, t).toBeGreaterThanOrEqual(0);
      expect(Date.parse(r.started_at) + 60_000 - next.get(t)!, t).toBeLessThan(1000);
    }
    // /status and GET /tenants/:t show it.
    expect(p.proxy.tenantStatus('t', false)).toMatchObject({ next_scheduled_drill: new Date(next.get('t')!).toISOString() });
    const metrics = await p.proxy.metricsText();
    expect(metrics).toContain('drproxy_drills_total{trigger="schedule",status="passed"} 1');
    expect(metrics).toContain('drproxy_drills_total{trigger="schedule",status="skipped"} 1');
    const lastOk = Number(/drproxy_drill_last_success_timestamp_seconds\{tenant="t",tier="BC"\} (\S+)/.exec(metrics)?.[1]);
    expect(lastOk * 1000).toBe(Date.parse(passed.ended_at!));
    expect(metrics).not.toMatch(/drproxy_drill_last_success_timestamp_seconds\{tenant="u"/);

    // Restart on the same state: the last drills are read back, nothing is due yet.
    await p.stop();
    p = await startProxy(doc(), { stateDir });
    await waitFor(() => p!.proxy.fleetDrills!.scheduler.upcoming().size === 2, { what: 'the schedules planned after the restart' });
    expect(p.proxy.fleetDrills!.scheduler.upcoming().get('t')).toBe(Date.parse(passed.started_at) + 60_000);
    expect((await reports(p, 't')).filter((r) => r.trigger === 'schedule')).toHaveLength(1);
    // The last success is read back from the store at start-up.
    expect(await p.proxy.metricsText()).toContain(`drproxy_drill_last_success_timestamp_seconds{tenant="t",tier="BC"} ${lastOk}`);
  }, 60_000);
});
