/**
 * The admin API's per-client rate limit: past its burst, an address gets 429 with a JSON body
 * and Retry-After, and is served again once the bucket refills. /healthz and /readyz are never
 * limited (a refused liveness probe would get the pod restarted); /metrics has a budget of its
 * own, so an API flood from Prometheus's address does not starve its scrapes; authenticated
 * calls are counted per token, so a flood from an operator's address (a shared bastion, a NAT)
 * cannot lock the operator out. The bucket table is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { RateLimiter } from '../src/admin/rate-limit.js';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let p: TestProxy;
const clients: Client[] = [];

beforeAll(async () => {
  p = await startProxy({
    admin: { ...adminTokens(), rate_limit: { rate: 1, burst: 10, metrics_rate: 2, metrics_burst: 3 } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await p?.stop();
});

/** A keep-alive client of the admin API whose connections come from `from`. */
function from(addr: string): (path: string, token?: string) => Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | undefined }> {
  const c = new Client(p.adminUrl, { localAddress: addr });
  clients.push(c);
  return async (path, token) => {
    const r = await c.request({ method: 'GET', path, headers: { host: '127.0.0.1', ...(token && { authorization: `Bearer ${token}` }) } });
    const text = await r.body.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* metrics text */
    }
    return { status: r.statusCode, body, retryAfter: r.headers['retry-after'] as string | undefined };
  };
}

/** Calls until the address is limited (at most 30 calls). */
async function flood(a: ReturnType<typeof from>): Promise<void> {
  for (let i = 0; i < 30; i++) if ((await a('/status')).status === 429) return;
  throw new Error('never limited');
}

describe('admin API rate limit', () => {
  it('past its burst an address gets 429 with JSON and Retry-After; others are not affected', async () => {
    const a = from('127.0.0.5');
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await a('/status')).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const r = await a('/status');
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: 'too_many_requests', detail: expect.stringMatching(/more than 1 calls from 127\.0\.0\.5 per second \(admin\.rate_limit\)/), retry_after: expect.any(Number) });
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await from('127.0.0.6')('/status')).status).toBe(401);
  });

  it('/healthz and /readyz are never limited, even from the flooded address', async () => {
    const a = from('127.0.0.5');
    await flood(a);
    for (let i = 0; i < 100; i++) {
      expect((await a('/healthz')).status).toBe(200);
      expect((await a('/readyz')).status).not.toBe(429);
    }
  });

  it('/metrics has its own budget: served from the flooded address, limited past metrics_burst', async () => {
    const a = from('127.0.0.5');
    await flood(a);
    const got = [];
    for (let i = 0; i < 10; i++) got.push((await a('/metrics')).status);
    expect(got.slice(0, 3)).toEqual([200, 200, 200]);
    expect(got).toContain(429);
  });

  it('a token is counted on its own: the operator is served from the flooded address', async () => {
    const a = from('127.0.0.5');
    await flood(a);
    // A wrong token counts as anonymous: limited with the address. Asked first, right after the
    // flood (a loaded clean-clone run refilled a token before a later ask), at 1 token a second.
    expect((await a('/status', 'not-a-token')).status).toBe(429);
    expect((await a('/status', VIEWER)).status).toBe(200);
  });

  it('the address is served again once its bucket refills; 429s are counted', async () => {
    const a = from('127.0.0.5');
    await waitFor(async () => (await a('/status')).status === 401, { what: 'the bucket refilled', interval: 250 });
    const m = await p.proxy.metrics.registry.getSingleMetric('drproxy_admin_refused_total')!.get();
    expect(m.values.find((v) => v.labels.code === 'too_many_requests')?.value).toBeGreaterThan(5);
  });
});

describe('RateLimiter', () => {
  it('refills at its rate and says when to retry', () => {
    let now = 0;
    const rl = new RateLimiter({ rate: 2, burst: 2 }, 10, () => now);
    expect([rl.take('a').ok, rl.take('a').ok, rl.take('a').ok]).toEqual([true, true, false]);
    expect(rl.take('a').retryAfter).toBe(1);
    now += 500;
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });

  it('a bounded table: full buckets are dropped first, then new keys share one bucket', () => {
    let now = 0;
    const rl = new RateLimiter({ rate: 1, burst: 2 }, 4, () => now);
    for (const k of ['a', 'b', 'c', 'd']) rl.take(k);
    expect(rl.size).toBe(4);
    // Every tracked client mid-burst: newcomers share the overflow bucket (2 tokens between them).
    expect([rl.take('e').ok, rl.take('f').ok, rl.take('g').ok]).toEqual([true, true, false]);
    expect(rl.size).toBe(5);
    // Once the tracked buckets have refilled, they give way (a full bucket = no bucket).
    now += 2000;
    expect(rl.take('h').ok).toBe(true);
    expect(rl.size).toBeLessThanOrEqual(2);
    for (let i = 0; i < 10_000; i++) rl.take(`spray-${i}`);
    expect(rl.size).toBeLessThanOrEqual(5);
  });
});
