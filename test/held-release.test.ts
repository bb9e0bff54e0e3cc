/**
 * A large backlog of held requests (many release chunks) is released to the new site when the
 * flip routes: every one answered by the new site, none sent to the old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Upstream } from './helpers/upstream.js';
import type { TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';

const HELD = 150;

let setup: HoldingSetup;
let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  // A slow promote hook keeps the flip in its hold phase.
  setup = await startHoldingProxy({ holdMax: 1000, holdRequests: '10s', promoteDelayMs: 1000 });
  ({ primary, backup, p } = setup);
});

afterAll(async () => {
  await setup?.stop();
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
