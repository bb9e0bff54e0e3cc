import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let good: Upstream, dead: Upstream;
let p: TestProxy;

const site = (url: string) => [{ name: 's1', backends: [url, dead.url] }];

beforeAll(async () => {
  [good, dead] = await Promise.all([startUpstream('good'), startUpstream('dead')]);
  p = await startProxy({
    // Slow probes and no passive ejection: the dead backend stays in rotation for this test.
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: {
      budget: { tier: 'BC', hosts: ['budget.example.com'], sites: site(good.url) },
      nobudget: { tier: 'BC', hosts: ['nobudget.example.com'], proxy: { retry_budget_percent: 0, retry_budget_min: 0 }, sites: site(good.url) },
      noretry: { tier: 'BC', hosts: ['noretry.example.com'], proxy: { max_retries: 0 }, sites: site(good.url) },
    },
  });
  await waitFor(
    () => ['budget', 'nobudget', 'noretry'].every((t) => p.proxy.tenant(t)!.sites[0]!.health().up === 2),
    { what: 'both backends up' },
  );
  // Dies between probes (30 s apart): still routable, refusing connections.
  await dead.kill('SIGKILL');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(good, dead);
});

async function statuses(host: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await request(`${p.url}/`, { headers: { host } });
    out.push(r.statusCode);
    await r.body.dump();
  }
  return out;
}

describe('retries and their bounds', () => {
  it('a refused connection is retried on the other backend', async () => {
    expect(new Set(await statuses('budget.example.com'))).toEqual(new Set([200]));
  });

  it('an empty retry budget stops retries', async () => {
    expect(await statuses('nobudget.example.com')).toContain(502);
  });

  it('max_retries 0 stops retries', async () => {
    expect(await statuses('noretry.example.com')).toContain(502);
  });
});
