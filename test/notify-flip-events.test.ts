/**
 * The proxy's own flips reach the sinks through its wiring (notify/wire.ts): a forced failover
 * emits failover_started and failover_finished with the tenant, tier, sites, epoch and measured
 * time; tenant filters keep other tenants' events away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream } from './helpers/upstream.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

describe('flip events', () => {
  it('a forced failover is told with its sites, epoch and measured time', async () => {
    rx = await startReceiver();
    process.env.TEST_NOTIFY_URL = rx.url;
    const [a, b] = [await startUpstream('a1'), await startUpstream('b1')];
    const sites = [{ name: 'a1', backends: [a.url] }, { name: 'b1', backends: [b.url] }];
    p = await startProxy({
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites }, other: { tier: 'DR1', hosts: ['other.test'], sites } },
      notify: [{ name: 'chat', kind: 'slack', url_env: 'TEST_NOTIFY_URL', tenants: ['acme'], events: ['failover_started', 'failover_finished', 'rto_exceeded'], coalesce: '50ms' }],
    });
    await p.proxy.tenant('other')!.operatorFailover({ to: 'b1', reason: 'filtered out', actor: 'test', force: true });
    const r = await p.proxy.tenant('acme')!.operatorFailover({ to: 'b1', reason: 'maintenance', actor: 'test', force: true });
    const texts = async () => rx!.received.map((x) => JSON.parse(x.body) as { text: string; blocks: Array<{ text?: { text: string }; fields?: Array<{ text: string }> }> });
    await waitFor(async () => (await texts()).flatMap((m) => m.blocks).filter((bl) => bl.fields && /^\*failover_(started|finished)\*/.test(bl.text?.text ?? '')).length === 2, { what: 'both events' });
    const all = JSON.stringify(await texts());
    expect(all).not.toContain('other');
    const blocks = (await texts()).flatMap((m) => m.blocks).filter((bl) => bl.fields);
    const finished = blocks.find((bl) => bl.text!.text.startsWith('*failover_finished*'))!;
    expect(finished.fields!.map((f) => f.text)).toEqual(['*Tenant*\nacme', '*Sites*\na1 → b1', `*Epoch*\n${r.epoch}`, `*Measured*\n${Math.round(r.durationMs)} ms`]);
    expect(blocks.find((bl) => bl.text!.text.startsWith('*failover_started*'))!.text!.text).toContain('maintenance');
  });
});
