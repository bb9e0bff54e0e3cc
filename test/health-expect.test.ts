import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream;
let p: TestProxy;

beforeAll(async () => {
  up = await startUpstream('s1');
  await up.setHealth(204, 'ok');
  p = await startProxy({
    defaults: { health_check: { interval: '50ms', timeout: '1s', rise: 1, fall: 1, jitter: 0 }, failover: { mode: 'manual' } },
    tenants: {
      body: { tier: 'BC', hosts: ['b.example.com'], health_check: { expect_status: '200-299', expect_body: 'READY' }, sites: [{ name: 's1', backends: [up.url] }] },
      codes: { tier: 'BC', hosts: ['c.example.com'], health_check: { expect_status: '200,204' }, sites: [{ name: 's1', backends: [up.url] }] },
    },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

const state = (tenant: string) => p.proxy.tenant(tenant)!.sites[0]!.backends[0]!.health.check;

describe('health check expectations', () => {
  it('a status in the expected ranges but without the expected body text is down', async () => {
    await waitFor(() => state('body').state === 'down', { what: 'down for lack of READY' });
    expect(state('body').lastResult?.error).toBe('body does not contain the expected text');
    await up.setHealth(200, 'status: READY');
    await waitFor(() => state('body').state === 'up', { what: 'up once READY' });
  });

  it('expected status lists and ranges are honoured', async () => {
    await up.setHealth(204, 'x');
    await waitFor(() => state('codes').lastResult?.status === 204 && state('codes').state === 'up', { what: '204 accepted' });
    await up.setHealth(201, 'x');
    await waitFor(() => state('codes').state === 'down', { what: '201 refused' });
    expect(state('codes').lastResult?.error).toBe('status 201 not in 200,204');
  });
});
