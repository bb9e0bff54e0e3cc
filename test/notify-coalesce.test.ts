/**
 * A region failover of 500 tenants (1,000 events: started and finished for each) reaches each
 * sink as a handful of messages, not 1,000: the webhook's carry every event, Slack's summarise,
 * PagerDuty's are capped per window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll } from './helpers/upstream.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { parseExposition } from './helpers/prom.js';
import { waitFor } from './helpers/poll.js';
import type { NotifyEvent } from '../src/notify/events.js';

let p: TestProxy | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await p?.stop();
  for (const r of receivers.splice(0)) await r.close();
  await stopAll();
  for (const k of ['HOOK', 'SLACK', 'PD', 'SECRET', 'PD_KEY']) delete process.env[`TEST_NOTIFY_${k}`];
});

async function sentTotal(): Promise<number> {
  const { samples } = parseExposition(await p!.proxy.metricsText());
  return samples.filter((s) => s.name === 'drproxy_notifications_total' && s.labels.result === 'sent').reduce((a, s) => a + s.value, 0);
}

describe('coalescing', () => {
  it('500 tenants failing over make at most a handful of messages per sink', async () => {
    const [hook, slack, pd] = [await startReceiver(), await startReceiver(), await startReceiver(() => 202)];
    receivers.push(hook!, slack!, pd!);
    Object.assign(process.env, { TEST_NOTIFY_HOOK: hook!.url, TEST_NOTIFY_SLACK: slack!.url, TEST_NOTIFY_PD: pd!.url, TEST_NOTIFY_SECRET: 's', TEST_NOTIFY_PD_KEY: 'rk' });
    const up = await startUpstream('a1');
    const common = { coalesce: '300ms', retry_base: '10ms' };
    p = await startProxy({
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [up.url] }, { name: 'b1', backends: [up.url] }] } },
      notify: [
        { name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_HOOK', secret_env: 'TEST_NOTIFY_SECRET', ...common },
        { name: 'chat', kind: 'slack', url_env: 'TEST_NOTIFY_SLACK', ...common },
        { name: 'pager', kind: 'pagerduty', url_env: 'TEST_NOTIFY_PD', routing_key_env: 'TEST_NOTIFY_PD_KEY', ...common },
      ],
    });
    const at = Date.now();
    for (let i = 0; i < 500; i++) {
      const t = `t${i}`;
      p.proxy.notifier.emit({ kind: 'failover_started', at, severity: 'warning', tenant: t, tier: 'BC', from: 'a1', to: 'b1', epoch: 2, summary: `${t}: failover a1 → b1 started` });
      p.proxy.notifier.emit({ kind: 'failover_finished', at, severity: 'info', tenant: t, tier: 'BC', from: 'a1', to: 'b1', epoch: 2, duration_ms: 40, summary: `${t}: failover a1 → b1 routed in 40 ms` });
    }
    // The webhook and Slack carry all 1,000; PagerDuty the 500 warnings (info pages nobody).
    await waitFor(async () => (await sentTotal()) === 2500, { what: 'every event sent', timeout: 10_000 });
    expect(hook!.received.length).toBeLessThanOrEqual(3);
    expect(slack!.received.length).toBeLessThanOrEqual(3);
    expect(pd!.received.length).toBeLessThanOrEqual(6);
    const events = hook!.accepted().flatMap((b) => (b as { events: NotifyEvent[] }).events);
    expect(events).toHaveLength(1000);
    expect(new Set(events.filter((e) => e.kind === 'failover_started').map((e) => e.tenant)).size).toBe(500);
    const s = JSON.parse(slack!.received[0]!.body) as { text: string; blocks: unknown[] };
    expect(s.text).toMatch(/1000 events \(failover_(started|finished) ×500, failover_(started|finished) ×500\)/);
    expect(s.blocks.length).toBeLessThanOrEqual(12);
    const pdBodies = pd!.received.map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string; payload: { summary: string } });
    expect(pdBodies.every((b) => b.event_action === 'trigger')).toBe(true);
    expect(pdBodies.at(-1)!.payload.summary).toContain('495 more events');
  });
});
