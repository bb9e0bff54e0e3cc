/**
 * site_unready (notify/readiness-alerts.ts): a standby site whose backend is killed is told once
 * (after failover.unready_alert_after), with its reasons; when it comes back the same dedup_key is
 * resolved. A standby never seen ready is not told at the first evaluation, only once it has
 * stayed unready for unready_alert_after.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_CHECKS, sitesHealthy, startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream } from './helpers/upstream.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import type { NotifyEvent } from '../src/notify/events.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

const AFTER_MS = 800;

async function start(a: string, b: string): Promise<void> {
  rx = await startReceiver();
  Object.assign(process.env, { TEST_NOTIFY_URL: rx.url, TEST_NOTIFY_SECRET: 'k' });
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, failover: { mode: 'manual', unready_alert_after: `${AFTER_MS}ms` } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [a] }, { name: 'b1', backends: [b] }] } },
    notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['site_unready'], coalesce: '20ms' }],
  });
}

const events = (): NotifyEvent[] => rx!.accepted().flatMap((x) => (x as { events: NotifyEvent[] }).events);

describe('site_unready', () => {
  it('is told once when a standby backend is killed, and resolved when it is back', async () => {
    const [a, b] = [await startUpstream('a1'), await startUpstream('b1')];
    await start(a.url, b.url);
    await sitesHealthy(p!, 'acme');
    await b.kill();
    const down = await waitFor(() => events().find((e) => e.severity === 'warning'), { what: 'site_unready', timeout: 10_000 });
    expect(down).toMatchObject({ kind: 'site_unready', tenant: 'acme', tier: 'BC', site: 'b1', dedup_key: 'unready:acme:b1' });
    expect((down.details as { reasons: Array<{ code: string }> }).reasons.map((r) => r.code)).toEqual(['unavailable']);
    await b.restart();
    const up = await waitFor(() => events().find((e) => e.severity === 'resolved'), { what: 'the resolve', timeout: 10_000 });
    expect(up).toMatchObject({ kind: 'site_unready', site: 'b1', dedup_key: 'unready:acme:b1' });
    // One trigger, one resolve: the killed backend is not told at every sweep; the active site never.
    expect(events().map((e) => e.severity)).toEqual(['warning', 'resolved']);
  });

  it('tells a standby never seen ready only after it stayed unready for unready_alert_after', async () => {
    const a = await startUpstream('a1');
    const startedAt = Date.now();
    await start(a.url, 'http://127.0.0.1:1');
    const down = await waitFor(() => events().find((e) => e.kind === 'site_unready'), { what: 'site_unready', timeout: 10_000 });
    expect(down).toMatchObject({ site: 'b1', severity: 'warning' });
    expect(down.at - startedAt).toBeGreaterThanOrEqual(AFTER_MS);
    expect(events()).toHaveLength(1);
  });
});
