/**
 * PagerDuty Events API v2 against a local receiver: a tenant that freezes opens one incident
 * (trigger) and its recovery resolves it, with the same dedup_key; the state changes come
 * through the wiring the proxy uses (notify/wire.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import { createLogger } from '../src/log.js';
import { NotifyService } from '../src/notify/notifier.js';
import { NotifyMetrics } from '../src/notify/metrics.js';
import { NotifyWiring } from '../src/notify/wire.js';
import { parseConfigText } from '../src/config/index.js';
import type { TenantState } from '../src/state/types.js';

let rx: Receiver | undefined;
let n: NotifyService | undefined;
afterEach(async () => {
  n?.close();
  await rx?.close();
  delete process.env.TEST_PD_URL;
  delete process.env.TEST_PD_KEY;
});

const state = (phase: TenantState['phase'], extra: Partial<TenantState> = {}): TenantState => ({ tenant: 'acme', epoch: 3, phase, active: 'a1', fenced: [], reason: 'test', trigger: 'health', updated_at: new Date().toISOString(), ...extra });

describe('PagerDuty', () => {
  it('a frozen tenant opens one incident and its recovery resolves it (same dedup_key)', async () => {
    rx = await startReceiver(() => 202);
    process.env.TEST_PD_URL = `${rx.url}/v2/enqueue`;
    process.env.TEST_PD_KEY = 'R0UTINGKEY';
    const yaml = `
tenants:
  acme: { tier: BC, hosts: [acme.test], sites: [{ name: a1, backends: ["http://127.0.0.1:1"] }] }
notify:
  - { name: pager, kind: pagerduty, url_env: TEST_PD_URL, routing_key_env: TEST_PD_KEY, coalesce: 0s, retry_base: 10ms }
`;
    const { config } = parseConfigText(yaml, 'test.yaml', '/tmp');
    const logs: string[] = [];
    n = new NotifyService(new NotifyMetrics(new Registry()), createLogger({ destination: { write: (l: string) => void logs.push(l) } }), config.notify);
    const wire = new NotifyWiring(() => n!, () => 'BC');
    wire.state(state('active'));
    wire.state(state('frozen', { frozen_cause: 'no_site', reason: 'no site available' }));
    await waitFor(() => rx!.received.length === 1, { what: 'the trigger' });
    wire.state(state('frozen', { frozen_cause: 'no_site', reason: 'still none' })); // no second incident
    wire.state(state('active', { reason: 'a1 is back' }));
    await waitFor(() => rx!.received.length === 2, { what: 'the resolve' });
    const [trigger, resolve] = rx.received.map((r) => JSON.parse(r.body) as Record<string, unknown> & { payload?: Record<string, unknown> });
    expect(rx.received[0]!.path).toBe('/v2/enqueue');
    expect(trigger).toMatchObject({ routing_key: 'R0UTINGKEY', event_action: 'trigger', dedup_key: 'frozen:acme', payload: { severity: 'critical', source: 'drproxy', component: 'acme', group: 'BC', class: 'frozen' } });
    expect(resolve).toEqual({ routing_key: 'R0UTINGKEY', event_action: 'resolve', dedup_key: 'frozen:acme' });
    expect(logs.join('')).not.toContain('R0UTINGKEY');
  });
});
