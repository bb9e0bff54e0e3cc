/**
 * A flip releases its backlog oldest request first. The drain takes the calls off a hung site
 * newest first (and backend by backend), after the requests that arrived during the flip were
 * already held; released in that order, the requests that had waited longest would wait the
 * longest again. They are released in the order they reached drproxy.
 *
 * One connection per backend (max_connections: 1), so the backup receives the requests in the
 * order they were dispatched; the upstream's byPath keeps first-arrival order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Upstream } from './helpers/upstream.js';
import type { TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';

const OLD = 12;
const NEW = 4;

let setup: HoldingSetup;
let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  setup = await startHoldingProxy({
    holdMax: 100,
    holdRequests: '10s',
    promoteDelayMs: 500,
    proxy: { max_connections: 1 },
    // Slow checks: the flip is the operator's, and the stopped primary is not probed meanwhile.
    healthCheck: { interval: '20s', timeout: '1s', rise: 1, fall: 1, jitter: 0 },
  });
  ({ primary, backup, p } = setup);
});

afterAll(async () => {
  await setup?.stop();
});

describe('release order of a flip backlog', () => {
  it('sends the oldest request first: calls taken off a hung site in arrival order, then those held during the flip', async () => {
    const h = { host: 't.example.com' };
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!.backend;
    const answers: Array<Promise<string>> = [];
    const send = (path: string) =>
      answers.push(
        request(`${p.url}${path}`, { headers: h }).then(async (r) => {
          await r.body.dump();
          return `${r.statusCode} ${String(r.headers['x-site'])}`;
        }),
      );
    await primary.kill('SIGSTOP');
    try {
      // One at a time, so that drproxy sees them in this order: one on a1's connection, the rest queued.
      for (let i = 0; i < OLD; i++) {
        send(`/old-${i}`);
        await waitFor(() => a1.calls.size === i + 1, { what: `/old-${i} in flight on a1` });
      }
      const flip = t.operatorFailover({ to: 'b1', reason: 'a1 hung', actor: 'test' });
      await waitFor(() => t.slot.route.mode === 'hold' && a1.calls.size === 0, { what: 'the drain of a1 (hold phase)' });
      for (let i = 0; i < NEW; i++) {
        send(`/new-${i}`);
        await waitFor(() => t.slot.load.inflight === OLD + i + 1, { what: `/new-${i} held` });
      }
      expect((await flip).result).toBe('routed');
      expect(new Set(await Promise.all(answers))).toEqual(new Set(['200 b1']));
    } finally {
      await primary.kill('SIGCONT');
    }
    const order = Object.keys((await backup.stats()).byPath).filter((k) => /^\/(old|new)-/.test(k));
    expect(order).toEqual([...Array.from({ length: OLD }, (_, i) => `/old-${i}`), ...Array.from({ length: NEW }, (_, i) => `/new-${i}`)]);
  });
});
