/**
 * Issue 16, item 18: every held request is answered within `hold_requests` of when it was first
 * held (plus a small scheduling margin). A request held again — here at a second flip's drain —
 * gets what is left of its bound, not a fresh one; a request a drain cannot hold again (the queue
 * is at hold_max) is answered at once instead of being dropped unanswered.
 *
 * Two sites whose promote hooks take 2 s, so each flip holds requests for 2 s; hold_requests 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Upstream } from './helpers/upstream.js';
import type { TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';

const HOLD_MS = 3000;
const MARGIN_MS = 300;

let setup: HoldingSetup;
let primary: Upstream, backup: Upstream;
let p: TestProxy;

beforeAll(async () => {
  setup = await startHoldingProxy({
    holdMax: 4,
    holdRequests: `${HOLD_MS}ms`,
    promoteDelayMs: 2000,
    // Slow, lenient checks: only the test's flips move the tenant, even on a loaded machine.
    healthCheck: { interval: '500ms', timeout: '400ms', rise: 2, fall: 3, jitter: 0 },
  });
  ({ primary, backup, p } = setup);
});

afterAll(async () => {
  await setup?.stop();
});

interface Answer {
  status: number;
  error?: string;
  code?: string;
  site?: string;
  /** performance.now() when the answer (or the client's own timeout) came. */
  at: number;
}

/** A GET whose answer time is measured; the client gives up after 10 s (a request never answered). */
async function get(path: string): Promise<Answer> {
  try {
    const r = await request(`${p.url}${path}`, { headers: { host: 't.example.com' }, headersTimeout: 10_000 });
    await r.body.dump();
    return { status: r.statusCode, code: r.headers['x-drproxy-error'] as string | undefined, site: r.headers['x-site'] as string | undefined, at: performance.now() };
  } catch (err) {
    return { status: 0, error: (err as Error).message, at: performance.now() };
  }
}

async function slowCount(u: Upstream, path = '/slow'): Promise<number> {
  return (await u.stats()).byPath[path] ?? 0;
}

describe('the hold bound of a request', () => {
  it('is not renewed when a second flip drains it again: it is answered by the end of the first bound', async () => {
    const t = p.proxy.tenant('t')!;
    const answer = get('/slow?ms=30000');
    await waitFor(async () => (await slowCount(primary)) === 1, { what: 'the request in flight on a1' });
    // First flip: the drain takes the request off a1 and holds it (2 s), then sends it to b1.
    const t0 = performance.now();
    await t.operatorFailover({ to: 'b1', reason: 'first', actor: 'test' });
    await waitFor(async () => (await slowCount(backup)) === 1, { what: 'the request re-sent to b1' });
    // Second flip: the drain takes it off b1 and holds it again: 1 s of its bound is left.
    const back = t.failback({ reason: 'second', actor: 'test' });
    const a = await answer;
    expect(a).toMatchObject({ status: 503, code: 'hold_timeout' });
    expect(a.at - t0).toBeLessThanOrEqual(HOLD_MS + MARGIN_MS);
    await back;
  }, 30_000);

  it('a request that a drain cannot hold again (hold_max) is answered at once, not dropped', async () => {
    const t = p.proxy.tenant('t')!;
    expect(t.state.active).toBe('a1');
    const before = await slowCount(primary, '/slow');
    const answers = Array.from({ length: 6 }, () => get('/slow?ms=2500'));
    await waitFor(async () => (await slowCount(primary, '/slow')) === before + 6, { what: 'six requests in flight on a1' });
    const t0 = performance.now();
    const flip = t.operatorFailover({ to: 'b1', reason: 'hold_max', actor: 'test', force: true });
    const all = await Promise.all(answers);
    await flip;
    const full = all.filter((a) => a.code === 'hold_full');
    const served = all.filter((a) => a.status === 200);
    expect(full.map((a) => a.status)).toEqual([503, 503]);
    expect(served.map((a) => a.site)).toEqual(['b1', 'b1', 'b1', 'b1']);
    // Refused at the drain, not after some wait.
    for (const a of full) expect(a.at - t0).toBeLessThanOrEqual(MARGIN_MS);
    // The others waited for the flip (2 s, within their bound) and then for b1's 2.5 s answer.
    for (const a of served) expect(a.at - t0).toBeLessThanOrEqual(HOLD_MS + 2500 + MARGIN_MS);
  }, 30_000);
});
