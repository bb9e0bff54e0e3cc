/**
 * The fleet breaker (safety.max_auto_failovers, docs/safety.md): a region of 100 tenants
 * trips at once (one shared upstream per region; region A's answers 503). With `confirm`,
 * automatic flips past the threshold are held until an operator confirms, then they move;
 * with `proceed` they all move, and the trip is said loudly (alert line, notification).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { runCli } from './helpers/cli.js';
import type { NotifyEvent } from '../src/notify/events.js';

const N = 100;
let ups: Upstream[] = [];
let p: TestProxy | undefined;

afterEach(async () => {
  await p?.stop();
  await stopAll(...ups);
  p = undefined;
  ups = [];
});

async function region(rule: Record<string, unknown>, events: NotifyEvent[] = []): Promise<{ a: Upstream; b: Upstream; p: TestProxy }> {
  const [a, b] = (ups = await Promise.all([startUpstream('A'), startUpstream('B')]));
  const tenants: Record<string, unknown> = {};
  for (let i = 0; i < N; i++) tenants[`t${i}`] = { tier: 'BC', hosts: [`t${i}.example.com`], sites: [{ name: 'a', backends: [a!.url] }, { name: 'b', backends: [b!.url] }] };
  p = await startProxy({ admin: adminTokens(), safety: { max_auto_failovers: rule }, defaults: { health_check: FAST_CHECKS }, tenants }, { notifier: { emit: (e) => void events.push(e) } });
  const px = p;
  await waitFor(() => [...px.proxy.controllers.values()].every((c) => c.sites.every((s) => s.health().available)), { what: 'every site healthy' });
  return { a: a!, b: b!, p: px };
}

const onB = (p: TestProxy): number => [...p.proxy.controllers.values()].filter((c) => c.state.active === 'b').length;

describe('fleet breaker', () => {
  it('confirm: past 10 automatic flips in the window the rest are held until an operator confirms; then they move', async () => {
    const events: NotifyEvent[] = [];
    const { a, p } = await region({ count: 10, window: '60s', action: 'confirm' }, events);
    await a.setHealth(503);
    await waitFor(() => p.proxy.safety().gate.heldTenants().length === N - 10 && onB(p) === 10, { what: '10 flipped, 90 held' });
    const status = await admin(p.adminUrl, 'GET', '/status', { token: VIEWER });
    expect(status.body.safety).toMatchObject({ breaker: { tripped: true, threshold: 10, rule: { count: 10, action: 'confirm' } } });
    expect((status.body.safety as { held: string[] }).held).toHaveLength(N - 10);
    const m = await admin(p.adminUrl, 'GET', '/metrics', { token: VIEWER });
    expect(m.text).toMatch(/^drproxy_safety_breaker_tripped 1$/m);
    expect(events.filter((e) => e.kind === 'safety_rule_tripped')).toHaveLength(1);
    expect(p.logs.filter((l) => l.event === 'safety_rule_tripped' && l.alert === true)).toHaveLength(1);
    // Still held some probe rounds later: nothing moves without the operator.
    const probes = (await a.stats()).healthAt.length;
    await waitFor(async () => (await a.stats()).healthAt.length >= probes + 5, { what: '5 more probes of region A' });
    expect(onB(p)).toBe(10);

    const ok = await runCli(['confirm', '--reason', 'region A is really down'], { DRPROXY_ADMIN: p.adminUrl, DRPROXY_TOKEN: OPERATOR });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`fleet breaker confirmed: ${N - 10} held automatic flip(s) released`);
    await waitFor(() => onB(p) === N, { what: 'every tenant on b after the confirmation', timeout: 20_000 });
    expect(p.proxy.safety().gate.heldTenants()).toEqual([]);
    expect(p.logs.some((l) => l.audit === true && l.action === 'safety_confirm')).toBe(true);
  }, 60_000);

  it('proceed: all 100 move, and the trip is an alert and a notification', async () => {
    const events: NotifyEvent[] = [];
    const { a, p } = await region({ percent: 10, window: '60s', action: 'proceed' }, events);
    await a.setHealth(503);
    await waitFor(() => onB(p) === N, { what: 'every tenant on b', timeout: 20_000 });
    expect(p.proxy.safety().gate.heldTenants()).toEqual([]);
    const trips = events.filter((e) => e.kind === 'safety_rule_tripped');
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({ severity: 'critical', details: { rule: 'max_auto_failovers', threshold: 10, action: 'proceed' } });
    expect(p.logs.some((l) => l.event === 'safety_rule_tripped' && l.alert === true)).toBe(true);
  }, 60_000);
});
