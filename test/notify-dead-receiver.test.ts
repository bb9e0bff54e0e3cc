/**
 * A dead notification receiver (it accepts the connection and never answers) never delays a
 * flip: forced failovers are timed with and without one. Its deliveries end in a counted
 * give-up with an alert line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll } from './helpers/upstream.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { parseExposition } from './helpers/prom.js';
import { waitFor } from './helpers/poll.js';

const proxies: TestProxy[] = [];
let rx: Receiver | undefined;
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  await rx?.close();
  await stopAll();
  delete process.env.TEST_NOTIFY_URL;
  delete process.env.TEST_NOTIFY_SECRET;
});

async function start(notify: unknown[]): Promise<TestProxy> {
  const a = await startUpstream('a1');
  const b = await startUpstream('b1');
  const p = await startProxy({
    tenants: { acme: { tier: 'BC', hosts: ['acme.test'], failover: { min_interval: '0s', drain_timeout: '50ms' }, sites: [{ name: 'a1', backends: [a.url] }, { name: 'b1', backends: [b.url] }] } },
    notify,
  });
  proxies.push(p);
  return p;
}

/** Median wall time of `n` forced flips back and forth, ms. */
async function flips(p: TestProxy, n: number): Promise<number> {
  const c = p.proxy.tenant('acme')!;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const to = i % 2 === 0 ? 'b1' : 'a1';
    const t0 = performance.now();
    const r = await c.operatorFailover({ to, reason: 'timing', actor: 'test', force: true });
    times.push(performance.now() - t0);
    expect(r.result).toBe('routed');
  }
  return times.sort((x, y) => x - y)[Math.floor(n / 2)]!;
}

describe('dead notification receiver', () => {
  it('does not delay a flip and ends in a counted give-up', async () => {
    rx = await startReceiver(() => 'hang');
    process.env.TEST_NOTIFY_URL = rx.url;
    process.env.TEST_NOTIFY_SECRET = 'k';
    const plain = await flips(await start([]), 4);
    const p = await start([{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', coalesce: '0s', retries: 2, retry_base: '10ms', timeout: '400ms' }]);
    const withDead = await flips(p, 4);
    // A flip that waited for one attempt would take ≥ 400 ms; both stay far below it.
    expect(withDead).toBeLessThan(plain + 150);
    expect(withDead).toBeLessThan(300);
    await waitFor(async () => {
      const { samples } = parseExposition(await p.proxy.metricsText());
      return samples.some((s) => s.name === 'drproxy_notifications_total' && s.labels.sink === 'hook' && s.labels.result === 'given_up' && s.value >= 1);
    }, { what: 'a counted give-up' });
    const line = p.logs.find((l) => l.event === 'notification_given_up');
    expect(line).toMatchObject({ alert: true, sink: 'hook', level: 'error' });
    expect(rx.received.length).toBeGreaterThanOrEqual(2);
  });
});
