import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, b1: Upstream, c1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1, c1] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('c1')]);
  // BC tier: RPO 15 minutes. b1 reports an hour of replication lag, c1 five seconds.
  await a1.setHealth(200, JSON.stringify({ replication: { lag_seconds: 0 } }));
  await b1.setHealth(200, JSON.stringify({ replication: { lag_seconds: 3600 } }));
  await c1.setHealth(200, JSON.stringify({ replication: { lag_seconds: 5 } }));
  p = await startProxy({
    defaults: { health_check: { ...FAST_CHECKS, data_age: { json_field: 'replication.lag_seconds' } } },
    tenants: {
      t: { tier: 'BC', hosts: ['t.example.com'], sites: ['a1', 'b1', 'c1'].map((n, i) => ({ name: n, backends: [[a1, b1, c1][i]!.url] })) },
    },
  });
  await waitFor(() => p.proxy.tenant('t')!.sites.every((s) => s.dataAgeSeconds() !== undefined), { what: 'data ages' });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1, c1);
});

describe('RPO gate', () => {
  it('marks a site whose data is older than the tier RPO as stale', () => {
    const t = p.proxy.tenant('t')!;
    expect(t.site('b1')!.dataAgeSeconds()).toBe(3600);
    expect(t.site('b1')!.stale(t.config.tier.rpo)).toBe(true);
    expect(t.site('c1')!.stale(t.config.tier.rpo)).toBe(false);
  });

  it('an automatic failover skips the stale site for the next fresh one', async () => {
    const t = p.proxy.tenant('t')!;
    await a1.kill('SIGKILL');
    await waitFor(() => t.state.active !== 'a1', { what: 'the flip' });
    expect(t.state.active).toBe('c1');
    expect(t.flips.at(-1)).toMatchObject({ from: 'a1', to: 'c1', trigger: 'health' });
  });

  it('a forced failover to the stale site needs force', async () => {
    const t = p.proxy.tenant('t')!;
    await expect(t.operatorFailover({ to: 'b1', reason: 'try', actor: 'test' })).rejects.toMatchObject({ code: 'DRP_CONFLICT', message: expect.stringMatching(/stale/) });
    const r = await t.operatorFailover({ to: 'b1', reason: 'accept the data loss', actor: 'test', force: true });
    expect(r).toMatchObject({ to: 'b1', result: 'routed' });
  });
});
