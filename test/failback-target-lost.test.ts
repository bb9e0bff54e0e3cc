/**
 * Issue 16, item 17: an automatic failback whose target fails during the flip (here while the
 * old site drains a slow POST) stays on the old site, at the new epoch, instead of routing to
 * the dead target and freezing the tenant with its healthy old site fenced. The requests held
 * during the flip are answered by the old site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import type { TenantState } from '../src/state/types.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;
const states: TenantState[] = [];

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy(
    {
      defaults: {
        health_check: FAST_CHECKS,
        failover: { failback: 'auto', failback_after: '300ms', min_interval: '0s', drain_timeout: '8s', hold_requests: '10s' },
      },
      tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
    },
    { controllerHooks: { onState: (s) => void states.push(s) } },
  );
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

async function get(path: string): Promise<{ status: number; site?: string }> {
  const r = await request(`${p.url}${path}`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return { status: r.statusCode, site: r.headers['x-site'] as string | undefined };
}

describe('auto failback whose target fails during the flip', () => {
  it('stays on the old site at the new epoch; held requests are answered there', async () => {
    const t = p.proxy.tenant('t')!;
    await primary.setHealth(503);
    await waitFor(() => t.state.active === 'b1' && t.state.phase === 'active', { what: 'failover to b1' });
    expect(t.state.fenced).toEqual(['a1']);

    // A POST in flight on b1: the failback's drain waits for it (it cannot be re-sent).
    const post = request(`${p.url}/slow?ms=3000`, { method: 'POST', body: 'x', headers: { host: 't.example.com' } });
    await waitFor(async () => (await backup.stats()).byPath['/slow'] === 1, { what: 'POST on b1' });
    await primary.setHealth(200);
    await waitFor(() => t.state.phase === 'failing_over' && t.state.to === 'a1', { what: 'failback started', timeout: 5000 });
    // The target fails while the old site drains.
    await primary.setHealth(503);
    const held = Array.from({ length: 5 }, (_, i) => get(`/held-${i}`));
    await waitFor(() => t.site('a1')!.health().unavailable, { what: 'a1 down' });
    expect(t.state.phase).toBe('failing_over');

    const r = await post;
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    const answers = await Promise.all(held);
    expect(answers).toEqual(answers.map(() => ({ status: 200, site: 'b1' })));
    await waitFor(() => t.state.phase === 'active', { what: 'flip over' });
    expect(t.state).toMatchObject({ active: 'b1', epoch: 3, fenced: ['a1'] });
    expect(t.flips.at(-1)).toMatchObject({ trigger: 'failback', from: 'b1', to: 'a1', epoch: 3, result: 'stayed' });
    expect(states.filter((s) => s.phase === 'frozen')).toEqual([]);
    expect(await get('/after')).toEqual({ status: 200, site: 'b1' });
  }, 30_000);
});
