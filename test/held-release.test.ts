/**
 * A large backlog of held requests (many release chunks) is released to the new site when the
 * flip routes: every one answered by the new site, none sent to the old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';

const HELD = 150;

let primary: Upstream, backup: Upstream;
let hooks: HookServer;
let p: TestProxy;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  hooks = await startHookServer(200, 1000); // a slow promote hook keeps the flip in its hold phase
  p = await startProxy({
    defaults: { health_check: FAST_CHECKS, failover: { hold_requests: '10s', hold_max: 1000, min_interval: '0s' } },
    tenants: {
      t: {
        tier: 'BC',
        hosts: ['t.example.com'],
        sites: [
          { name: 'a1', backends: [primary.url] },
          { name: 'b1', backends: [backup.url], promote: { url: `${hooks.url}/promote-b1`, timeout: '5s' } },
        ],
      },
    },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
  await hooks?.close();
});

describe('releasing a large held backlog', () => {
  it(`answers all ${HELD} held requests from the new site, none from the old one`, async () => {
    const t = p.proxy.tenant('t')!;
    const flip = t.operatorFailover({ to: 'b1', reason: 'planned', actor: 'test' });
    await waitFor(() => t.slot.route.mode === 'hold', { what: 'the hold phase' });
    const held = Array.from({ length: HELD }, (_, i) => request(`${p.url}/held-${i}`, { headers: { host: 't.example.com' } }));
    await waitFor(() => t.slot.load.inflight >= HELD, { what: `${HELD} requests held` });
    const record = await flip;
    expect(record.result).toBe('routed');
    const answers = await Promise.all(
      held.map(async (r) => {
        const res = await r;
        await res.body.dump();
        return `${res.statusCode} ${String(res.headers['x-site'])}`;
      }),
    );
    expect(new Set(answers)).toEqual(new Set(['200 b1']));
    const onBackup = (await backup.stats()).byPath;
    const onPrimary = (await primary.stats()).byPath;
    for (let i = 0; i < HELD; i++) {
      expect(onBackup[`/held-${i}`], `/held-${i} on the backup`).toBe(1);
      expect(onPrimary[`/held-${i}`], `/held-${i} on the primary`).toBeUndefined();
    }
  });
});
