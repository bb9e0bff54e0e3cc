/**
 * site_unready's hysteresis (notify/readiness-alerts.ts), sweep by sweep on a driven clock: a
 * standby flapping faster than unready_alert_after is never told; one unready for longer is told
 * once, however many sweeps see it, and resolved once ready as long; the active site and fenced
 * sites are not watched; a follower (may not decide) keeps quiet.
 */
import { describe, expect, it } from 'vitest';
import { ReadinessAlerts } from '../src/notify/readiness-alerts.js';
import type { NotifyEvent } from '../src/notify/events.js';
import type { TenantController } from '../src/failover/tenant-controller.js';

const AFTER = 1000;

/** A tenant as the sweep reads it: its config's alert delay, its state, each site's readiness now. */
function tenant(ready: Record<string, boolean>, state: { active: string; fenced: string[] }) {
  const t = {
    name: 'acme',
    config: { failover: { unready_alert_after: AFTER }, tier: { name: 'BC' } },
    state: { phase: 'active', ...state },
    sites: Object.keys(ready).map((name) => ({ name })),
    readinessAll: () => Object.entries(ready).map(([site, ok]) => ({ site, ready: ok, reasons: ok ? [] : [{ code: 'unavailable', message: '0 of 1 backends healthy', site }] })),
  };
  return t as unknown as TenantController & { state: { active: string; fenced: string[] } };
}

function alerts(t: TenantController, leading = () => true) {
  const events: NotifyEvent[] = [];
  const a = new ReadinessAlerts({ tenants: () => [t], notifier: () => ({ emit: (e) => void events.push(e) }), mayDecide: leading, now: () => 0 });
  return { a, events };
}

describe('site_unready hysteresis', () => {
  it('a standby flapping faster than unready_alert_after is never told', () => {
    const ready = { a1: true, b1: true };
    const { a, events } = alerts(tenant(ready, { active: 'a1', fenced: [] }));
    for (let now = 0; now < 20_000; now += 100) {
      ready.b1 = Math.floor(now / 500) % 2 === 0; // 500 ms up, 500 ms down
      a.sweep(now);
    }
    expect(events).toEqual([]);
  });

  it('unready longer than that: told once, resolved once ready as long; active and fenced sites never', () => {
    const ready = { a1: false, b1: true, c1: false };
    const { a, events } = alerts(tenant(ready, { active: 'a1', fenced: ['c1'] }));
    for (let now = 0; now < 3000; now += 100) a.sweep(now);
    expect(events).toEqual([]);
    ready.b1 = false;
    for (let now = 3000; now < 10_000; now += 100) a.sweep(now);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'site_unready', severity: 'warning', tenant: 'acme', tier: 'BC', site: 'b1', dedup_key: 'unready:acme:b1', at: 4000 });
    ready.b1 = true;
    a.sweep(10_000);
    ready.b1 = false; // a blip while it comes back restarts the resolve's wait
    a.sweep(10_500);
    ready.b1 = true;
    for (let now = 11_000; now < 20_000; now += 100) a.sweep(now);
    expect(events.map((e) => [e.severity, e.at])).toEqual([
      ['warning', 4000],
      ['resolved', 12_000],
    ]);
  });

  it('a replica that may not decide keeps quiet', () => {
    const { a, events } = alerts(tenant({ a1: true, b1: false }, { active: 'a1', fenced: [] }), () => false);
    for (let now = 0; now < 5000; now += 100) a.sweep(now);
    expect(events).toEqual([]);
  });
});
