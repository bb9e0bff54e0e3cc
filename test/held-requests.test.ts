import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { request } from 'undici';
import type { Upstream } from './helpers/upstream.js';
import type { TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';

// 64 MB: more than loopback TCP can buffer (here tcp_rmem max 32 MB + tcp_wmem max 4 MB), so a
// proxy that read held bodies would let the client send it all before the release.
const BODY = 64 * 1024 * 1024;

let setup: HoldingSetup;
let primary: Upstream;
let p: TestProxy;

beforeAll(async () => {
  // A slow promote hook keeps the flip in its hold phase.
  setup = await startHoldingProxy({ holdMax: 3, holdRequests: '5s', promoteDelayMs: 1500 });
  ({ primary, p } = setup);
});

afterAll(async () => {
  await setup?.stop();
});

/** POST a large body, counting how much of it the proxy had taken when the flip released it. */
function bigPost(releasedAt: () => number): Promise<{ status: number; echoed: number; writtenBeforeRelease: number; site?: string }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let writtenBeforeRelease = -1;
    const req = http.request(
      { host: '127.0.0.1', port: p.port, path: '/echo', method: 'POST', headers: { host: 't.example.com', 'content-length': BODY }, agent: false },
      (res) => {
        let echoed = 0;
        res.on('data', (d: Buffer) => (echoed += d.length));
        res.on('end', () => resolve({ status: res.statusCode!, echoed, writtenBeforeRelease, site: res.headers['x-site'] as string }));
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 98);
    const pump = () => {
      while (written < BODY) {
        if (writtenBeforeRelease < 0 && releasedAt() > 0) writtenBeforeRelease = written;
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (writtenBeforeRelease < 0) writtenBeforeRelease = written;
      req.end();
    };
    pump();
  });
}

describe('requests held during a flip', () => {
  it('wait instead of failing, and their bodies are not read until they are forwarded', async () => {
    const t = p.proxy.tenant('t')!;
    let routedAt = 0;
    const flip = t.operatorFailover({ to: 'b1', reason: 'planned', actor: 'test' }).then((r) => (routedAt = r.timings.routedAt));
    await waitFor(() => t.slot.route.mode === 'hold', { what: 'the hold phase' });
    const get = request(`${p.url}/held-get`, { headers: { host: 't.example.com' } });
    const post = bigPost(() => routedAt);
    await flip;
    const g = await get;
    expect(g.statusCode).toBe(200);
    expect(g.headers['x-site']).toBe('b1');
    await g.body.dump();
    const r = await post;
    expect(r).toMatchObject({ status: 200, echoed: BODY, site: 'b1' });
    // While held, TCP pushed back: at most what kernel buffers hold had gone out at the release.
    expect(r.writtenBeforeRelease).toBeLessThan(48 * 1024 * 1024);
    expect((await primary.stats()).byPath['/held-get']).toBeUndefined();
  });

  it('get 503 with Retry-After past hold_max', async () => {
    const t = p.proxy.tenant('t')!;
    const flip = t.operatorFailover({ to: 'a1', reason: 'back', actor: 'test', force: true });
    await waitFor(() => t.slot.route.mode === 'hold', { what: 'the hold phase' });
    const held = [1, 2, 3].map(() => request(`${p.url}/h`, { headers: { host: 't.example.com' } }));
    await waitFor(() => t.slot.load.inflight >= 3, { what: 'three held' });
    const over = await request(`${p.url}/h`, { headers: { host: 't.example.com' } });
    expect(over.statusCode).toBe(503);
    expect(over.headers['retry-after']).toBe('5');
    expect(over.headers['x-drproxy-error']).toBe('hold_full');
    await over.body.dump();
    // Said once in the log, not once per request (at most once a second).
    const first = performance.now();
    const again = await request(`${p.url}/h`, { headers: { host: 't.example.com' } });
    expect(again.statusCode).toBe(503);
    await again.body.dump();
    const lines = p.logs.filter((l) => String(l.msg).startsWith('held requests at hold_max'));
    expect(lines[0]).toMatchObject({ level: 'warn', tenant: 't', refused: 1, hold_max: 3 });
    // Judged only if the second refusal came within the second (a stalled machine can take longer).
    if (performance.now() - first < 900) expect(lines).toHaveLength(1);
    await flip;
    for (const h of await Promise.all(held)) {
      expect(h.statusCode).toBe(200);
      await h.body.dump();
    }
  });
});
