/** A drill's final report is told: a refused drill (its target unhealthy) is drill_failed. */
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import type { NotifyEvent } from '../src/notify/events.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

describe('drill events', () => {
  it('a refused drill is told as drill_failed with its report id', async () => {
    rx = await startReceiver();
    Object.assign(process.env, { TEST_NOTIFY_URL: rx.url, TEST_NOTIFY_SECRET: 'k' });
    const [a, b] = [await startUpstream('a1'), await startUpstream('b1')];
    await b.setHealth(503);
    p = await startProxy({
      admin: adminTokens(),
      defaults: { health_check: FAST_CHECKS },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], failover: { mode: 'manual' }, sites: [{ name: 'a1', backends: [a.url] }, { name: 'b1', backends: [b.url] }] } },
      notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['drill_passed', 'drill_failed'], coalesce: '20ms' }],
    });
    const r = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'DR test', dwell: '1s' } });
    expect(r.status, r.text).toBe(409);
    const e = await waitFor(() => rx!.accepted().flatMap((x) => (x as { events: NotifyEvent[] }).events)[0], { what: 'the drill event' });
    expect(e).toMatchObject({ kind: 'drill_failed', tenant: 't', tier: 'BC', from: 'a1', details: { status: 'refused' } });
    expect(String((e.details as { id: string }).id)).toMatch(/^drill-/);
  });
});
