import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, proxy: { retry_on: [502, 503, 504] } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('a non-idempotent request in flight when the primary dies', () => {
  it('gets 502 and is never re-sent to the backup', async () => {
    const post = request(`${p.url}/slow?ms=3000`, { method: 'POST', headers: { host: 't.example.com', 'content-type': 'text/plain' }, body: 'order #1' });
    await waitFor(async () => (await primary.stats()).byPath['/slow'] === 1, { what: 'the POST to reach the primary' });
    await primary.kill('SIGKILL');
    const r = await post;
    const body = await r.body.text();
    expect(r.statusCode).toBe(502);
    expect(body).toMatch(/was not retried/);
    await waitFor(() => p.proxy.tenant('t')!.state.active === 'b1', { what: 'the flip' });
    // The backup takes new traffic but never saw the POST.
    const after = await request(`${p.url}/after`, { headers: { host: 't.example.com' } });
    expect(after.headers['x-site']).toBe('b1');
    await after.body.dump();
    expect((await backup.stats()).byPath['/slow']).toBeUndefined();
  });
});
