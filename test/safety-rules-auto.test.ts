/**
 * Per-flip rules on automatic failover (docs/safety.md "Per-flip rules", decide.ts rule 7): with
 * `failure_domain: region` a failing primary goes to the other region's site rather than the
 * more preferred same-region one; when only a same-region site could take over, nothing flips
 * or freezes, the tenant is alerted and safety_rule_tripped is told once (a real receiver).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import { STEADY_CHECKS } from './helpers/steady-checks.js';

const SAFETY = { failure_domain: 'region' };
let ups: Record<string, Upstream>, p: TestProxy, rx: Receiver;

const sites = (t: string) => [
  { name: 'a1', region: 'A', zone: '1', backends: [ups[`${t}-a1`]!.url] },
  { name: 'a2', region: 'A', zone: '2', backends: [ups[`${t}-a2`]!.url] },
  { name: 'b1', region: 'B', zone: '1', backends: [ups[`${t}-b1`]!.url] },
];

beforeAll(async () => {
  const names = ['go', 'stay'].flatMap((t) => ['a1', 'a2', 'b1'].map((s) => `${t}-${s}`));
  ups = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await startUpstream(n)] as const)));
  rx = await startReceiver();
  process.env.TEST_NOTIFY_URL = rx.url;
  process.env.TEST_NOTIFY_SECRET = 'rules-secret';
  // Tenant "stay": its other-region site is down from the start.
  await ups['stay-b1']!.setHealth(503);
  p = await startProxy({
    defaults: { health_check: STEADY_CHECKS, failover: { min_interval: '0s' }, safety: SAFETY },
    tenants: {
      go: { tier: 'BC', hosts: ['go.example.com'], sites: sites('go') },
      stay: { tier: 'BC', hosts: ['stay.example.com'], sites: sites('stay') },
    },
    notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['safety_rule_tripped', 'frozen', 'failover_finished'], coalesce: '0s' }],
  });
  const available = (t: string, s: string) => p.proxy.tenant(t)!.site(s)!.health().available;
  await waitFor(() => ['a1', 'a2', 'b1'].every((s) => available('go', s)) && available('stay', 'a1') && available('stay', 'a2'), { what: 'sites healthy' });
});

afterAll(async () => {
  await p?.stop();
  await rx?.close();
  await stopAll(...Object.values(ups ?? {}));
  delete process.env.TEST_NOTIFY_URL;
  delete process.env.TEST_NOTIFY_SECRET;
});

const events = () => rx.accepted().flatMap((b) => (b as { events: Array<Record<string, unknown>> }).events);

describe('failure_domain on automatic failover', () => {
  it('fails over to the other region (b1) rather than the more preferred same-region site (a2)', async () => {
    await ups['go-a1']!.setHealth(503);
    const t = p.proxy.tenant('go')!;
    await waitFor(() => t.state.active !== 'a1' && t.state.phase === 'active', { what: 'the automatic failover of go' });
    expect(t.state.active).toBe('b1');
    expect(t.flips.at(-1)).toMatchObject({ from: 'a1', to: 'b1', trigger: 'health', result: 'routed' });
  });

  it('with only a same-region site usable: no flip, no freeze, an alert, and one safety_rule_tripped', async () => {
    await ups['stay-a1']!.setHealth(503);
    const t = p.proxy.tenant('stay')!;
    await waitFor(() => p.logs.some((l) => l.alert === true && l.tenant === 'stay' && String(l.msg).startsWith('safety rule failure_domain')), { what: 'the refusal alert' });
    await waitFor(() => events().some((e) => e.kind === 'safety_rule_tripped' && e.tenant === 'stay'), { what: 'the notification' });
    // More decisions on the same health: told once, not at every evaluation.
    for (let i = 0; i < 5; i++) t.evaluate();
    expect(t.state).toMatchObject({ phase: 'active', active: 'a1', epoch: 1 });
    expect(p.logs.filter((l) => l.alert === true && l.tenant === 'stay' && String(l.msg).startsWith('safety rule failure_domain'))).toHaveLength(1);
    // The other region comes back: the tenant fails over there at once. Its failover_finished
    // comes after anything the evaluations above could have queued on the same sink.
    await ups['stay-b1']!.setHealth(200);
    await waitFor(() => t.state.active === 'b1', { what: 'the failover of stay to b1' });
    await waitFor(() => events().some((e) => e.kind === 'failover_finished' && e.tenant === 'stay'), { what: 'failover_finished of stay' });
    const tripped = events().filter((e) => e.kind === 'safety_rule_tripped');
    expect(tripped).toEqual([expect.objectContaining({ tenant: 'stay', severity: 'critical', from: 'a1', to: 'a2', dedup_key: 'safety:stay:failure_domain', details: expect.objectContaining({ action: 'refused' }) })]);
    expect(events().some((e) => e.kind === 'frozen')).toBe(false);
  });
});
