/**
 * Drill series (src/metrics/drills.ts): the required interval per tier in use, the last success
 * per tenant with its tier (moved when a reload changes the tier, gone with the tenant), drills
 * counted by trigger and final status, region summaries not counted.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { DrillMetrics } from '../src/metrics/drills.js';
import type { TenantConfig } from '../src/config/types.js';
import type { AnyDrillReport } from '../src/drill/types.js';

const tier = (name: string, days: number) => ({ name, rpo: 1, rto: 1, drill_interval: days * 86_400_000 });
const tenant = (name: string, t: ReturnType<typeof tier>) => ({ name, tier: t }) as Pick<TenantConfig, 'name' | 'tier'>;
const report = (tenant: string, trigger: string, status: string, ended = '2026-12-06T10:00:00.000Z') => ({ kind: 'drproxy.drill', tenant, trigger, status, started_at: ended, ended_at: ended }) as unknown as AnyDrillReport;

describe('drill metrics', () => {
  it('drproxy_drills_total is 0 for every trigger and final status before the first drill', async () => {
    const registry = new Registry();
    new DrillMetrics(registry).configure([tenant('a', tier('BC', 30))]);
    const text = await registry.metrics();
    for (const trigger of ['operator', 'schedule', 'region']) {
      for (const status of ['passed', 'failed', 'aborted', 'refused', 'interrupted']) expect(text).toContain(`drproxy_drills_total{trigger="${trigger}",status="${status}"} 0`);
    }
    expect(text).toContain('drproxy_drills_total{trigger="schedule",status="skipped"} 0');
    // Only scheduled drills are skipped: no series that can never move.
    expect(text).not.toMatch(/drproxy_drills_total\{trigger="(operator|region)",status="skipped"\}/);
  });

  it('tier intervals, tenant last success with its tier, counts; reload moves and removes series', async () => {
    const registry = new Registry();
    const m = new DrillMetrics(registry);
    const BC = tier('BC', 30);
    const DR1 = tier('DR1', 90);
    expect(m.configure([tenant('a', BC), tenant('b', BC)])).toEqual(['a', 'b']);
    m.finished(report('a', 'schedule', 'passed'));
    m.finished(report('b', 'operator', 'refused'));
    m.finished({ kind: 'drproxy.region_drill', status: 'passed' } as unknown as AnyDrillReport);
    m.finished(report('a', 'region', 'running'));
    let text = await registry.metrics();
    expect(text).toContain('drproxy_drill_required_interval_seconds{tier="BC"} 2592000');
    expect(text).not.toContain('tier="DR1"');
    expect(text).toContain(`drproxy_drill_last_success_timestamp_seconds{tenant="a",tier="BC"} ${Date.parse('2026-12-06T10:00:00Z') / 1000}`);
    expect(text).not.toMatch(/last_success_timestamp_seconds\{tenant="b"/);
    expect(text).toContain('drproxy_drills_total{trigger="schedule",status="passed"} 1');
    expect(text).toContain('drproxy_drills_total{trigger="operator",status="refused"} 1');
    // Neither the region summary nor a running drill is counted: the region series stay at 0.
    expect(text).not.toMatch(/drproxy_drills_total\{trigger="region",status="\w+"\} [1-9]/);

    // Reload: a moves to DR1, b is removed, c is added.
    expect(m.configure([tenant('a', DR1), tenant('c', BC)])).toEqual(['c']);
    text = await registry.metrics();
    expect(text).toContain('drproxy_drill_required_interval_seconds{tier="DR1"} 7776000');
    expect(text).toMatch(/drproxy_drill_last_success_timestamp_seconds\{tenant="a",tier="DR1"\} \d+/);
    expect(text).not.toMatch(/tenant="a",tier="BC"/);
  });
});
