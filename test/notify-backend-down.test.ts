/**
 * A backend whose health checks fail is told as backend_down (with the failing check's cause),
 * and when it answers again the same dedup_key is resolved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_CHECKS, startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream } from './helpers/upstream.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import type { NotifyEvent } from '../src/notify/events.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

describe('backend_down', () => {
  it('is told when a backend goes down, and resolved when it is back', async () => {
    rx = await startReceiver();
    Object.assign(process.env, { TEST_NOTIFY_URL: rx.url, TEST_NOTIFY_SECRET: 'k' });
    const [a, b] = [await startUpstream('a1'), await startUpstream('b1')];
    p = await startProxy({
      defaults: { health_check: FAST_CHECKS, failover: { mode: 'manual' } },
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [a.url] }, { name: 'b1', backends: [b.url] }] } },
      notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['backend_down'], coalesce: '20ms' }],
    });
    const events = () => rx!.accepted().flatMap((x) => (x as { events: NotifyEvent[] }).events);
    await a.setHealth(503);
    const down = await waitFor(() => events().find((e) => e.severity === 'warning'), { what: 'backend_down' });
    expect(down).toMatchObject({ kind: 'backend_down', tenant: 'acme', site: 'a1', tier: 'BC', dedup_key: expect.stringMatching(/^backend_down:acme\/a1\//) });
    expect(down.summary).toMatch(/503/);
    await a.setHealth(200);
    const up = await waitFor(() => events().find((e) => e.severity === 'resolved'), { what: 'the resolve' });
    expect(up.dedup_key).toBe(down.dedup_key);
    expect(events()).toHaveLength(2);
  });
});
