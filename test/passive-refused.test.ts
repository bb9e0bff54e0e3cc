/**
 * passive_health.consecutive_refused: a connection refused (nothing listens on the backend's
 * port) ejects the backend at once by default, instead of after consecutive_failures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { validateConfig } from '../src/config/index.js';

let victim: Upstream | undefined, other: Upstream | undefined;
let p: TestProxy | undefined;

afterEach(async () => {
  await p?.stop();
  await stopAll(victim, other);
  p = victim = other = undefined;
});

/** A tenant on a one-backend site `a1` (the victim) with `b1` behind it; probes too slow to matter. */
async function setUp(passive: Record<string, unknown>): Promise<TestProxy> {
  [victim, other] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const proxy = await startProxy({
    defaults: {
      health_check: { interval: '30s', timeout: '1s' },
      passive_health: { consecutive_failures: 3, ...passive },
      // A request whose only backend failed waits for another site at most this long in all
      // (held.ts): long enough for a second request to fail while it waits.
      failover: { hold_requests: '3s' },
    },
    tenants: {
      t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [victim.url] }, { name: 'b1', backends: [other.url] }] },
    },
  });
  await sitesHealthy(proxy, 't');
  return proxy;
}

interface Ejection {
  kind: string;
  failures: number;
  refused: number;
}

async function send(proxy: TestProxy, path: string): Promise<void> {
  const r = await request(`${proxy.url}${path}`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  expect(r.statusCode).toBe(200);
  expect(r.headers['x-site']).toBe('b1');
}

async function killVictimAndSend(proxy: TestProxy, second: boolean): Promise<Ejection> {
  await victim!.kill('SIGKILL');
  // A request: its attempts on a1 (two: a1 is the site's only backend) are refused (or, if it
  // raced the dying keep-alive connection, reset first), and it waits for a flip. With `second`,
  // another request fails on a1 while it waits. The tenant fails over and b1 answers them.
  const first = send(proxy, '/x');
  if (second) {
    await waitFor(() => proxy.proxy.tenant('t')!.slot.observer!.held > 0, { what: 'the first request held' });
    await send(proxy, '/y');
  }
  await first;
  const line = await waitFor(() => proxy.logs.find((l) => l.msg === 'backend ejected (passive health)'), { what: 'the ejection log line' });
  return line as unknown as Ejection;
}

describe('passive_health.consecutive_refused', () => {
  it('ejects a backend at its first refused connection by default', async () => {
    p = await setUp({});
    const e = await killVictimAndSend(p, false);
    expect(e.kind).toBe('connect');
    expect(e.refused).toBe(1);
    expect(e.failures).toBeLessThan(3);
    expect(p.proxy.tenant('t')!.state.active).toBe('b1');
  });

  it('with 0, refusals count only toward consecutive_failures', async () => {
    p = await setUp({ consecutive_refused: 0 });
    const e = await killVictimAndSend(p, true);
    expect(e.failures).toBe(3);
    expect(e.refused).toBeGreaterThanOrEqual(1);
    expect(p.proxy.tenant('t')!.state.active).toBe('b1');
  });

  it('rejects a value that is not a whole number from 0 to 1000, naming the path', () => {
    const check = (v: unknown) =>
      validateConfig(
        { defaults: { passive_health: { consecutive_refused: v } }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: ['http://127.0.0.1:1'] }] } } },
        { baseDir: '/tmp' },
      );
    for (const bad of [-1, 1.5, 1001, 'x']) {
      const { config, problems } = check(bad);
      expect(config).toBeUndefined();
      expect(problems.map((x) => x.path)).toContain('defaults.passive_health.consecutive_refused');
    }
    expect(check(0).config!.tenants[0]!.passive_health.consecutive_refused).toBe(0);
    expect(check(2).config!.tenants[0]!.passive_health.consecutive_refused).toBe(2);
    expect(check(undefined).config!.tenants[0]!.passive_health.consecutive_refused).toBe(1);
  });
});
