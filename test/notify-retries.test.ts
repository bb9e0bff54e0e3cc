/**
 * A receiver that fails three times (500, 503, then 429 with Retry-After) and then succeeds gets
 * the event exactly once; the Retry-After is honoured; the counters say sent once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream } from './helpers/upstream.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { parseExposition } from './helpers/prom.js';
import { waitFor } from './helpers/poll.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

async function counter(labels: Record<string, string>): Promise<number> {
  const { samples } = parseExposition(await p!.proxy.metricsText());
  return samples.filter((s) => s.name === 'drproxy_notifications_total' && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

describe('notification retries', () => {
  it('a receiver failing 3 times then succeeding gets the event once', async () => {
    rx = await startReceiver((n, _r, res) => {
      if (n === 3) res.setHeader('retry-after', '1');
      return [500, 503, 429][n - 1] ?? 200;
    });
    process.env.TEST_NOTIFY_URL = rx.url;
    process.env.TEST_NOTIFY_SECRET = 'k';
    const up = await startUpstream('a1');
    p = await startProxy({
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [up.url] }, { name: 'b1', backends: [up.url] }] } },
      notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', coalesce: '10ms', retries: 5, retry_base: '10ms' }],
    });
    p.proxy.notifier.emit({ kind: 'frozen', at: Date.now(), severity: 'critical', summary: 'acme is frozen', tenant: 'acme' });
    await waitFor(async () => (await counter({ sink: 'hook', event: 'frozen', result: 'sent' })) === 1, { what: 'sent counted' });
    expect(rx.received).toHaveLength(4);
    expect(rx.accepted()).toHaveLength(1);
    expect((rx.accepted()[0] as { events: unknown[] }).events).toHaveLength(1);
    // The same body each attempt; the 4th came after the 429's Retry-After: 1, not after 10–80 ms.
    expect(new Set(rx.received.map((r) => r.body)).size).toBe(1);
    expect(rx.received[3]!.at - rx.received[2]!.at).toBeGreaterThanOrEqual(950);
    expect(await counter({ sink: 'hook', result: 'given_up' })).toBe(0);
    // Nothing more arrives (no duplicate delivery).
    p.proxy.notifier.emit({ kind: 'recovered', at: Date.now(), severity: 'resolved', summary: 'marker', tenant: 'acme' });
    await waitFor(() => rx!.received.length === 5, { what: 'the marker' });
    expect(rx.accepted().flatMap((b) => (b as { events: Array<{ kind: string }> }).events.map((e) => e.kind))).toEqual(['frozen', 'recovered']);
  });
});
