import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { blockEventLoopInIo } from './helpers/overload.js';
import type { CheckResult } from '../src/health/active-check.js';

let up: Upstream;
let p: TestProxy;
const results: CheckResult[] = [];
const states: string[] = [];

beforeAll(async () => {
  up = await startUpstream('s1');
  p = await startProxy(
    {
      // fall: 1, so a single false failure would mark the backend down.
      // A health answer that takes 40 ms keeps a probe in flight most of the time.
      defaults: { health_check: { path: '/slow?ms=40', interval: '50ms', timeout: '100ms', rise: 1, fall: 1, jitter: 0 }, failover: { mode: 'manual' } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: [up.url] }] } },
    },
    {
      controllerHooks: {
        onCheck: (_t, _s, _b, r) => void results.push(r),
        onBackendState: (_t, _s, _b, state) => void states.push(state),
      },
    },
  );
  await waitFor(() => backendState() === 'up', { what: 'backend up' });
});

function backendState(): string {
  return p.proxy.tenant('t')!.sites[0]!.backends[0]!.health.check.state;
}

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

describe('health checks while drproxy itself is overloaded', () => {
  it('a probe whose timeout fires late is inconclusive: a healthy backend is never marked down', async () => {
    // From here on (on a loaded machine, the very first probe, on a cold connection, may time out).
    const from = states.length;
    // Busy in a socket's callback, as with traffic: a probe's answer comes in during the block,
    // its timer falls due during it, and the late timer runs before that answer is read (see
    // blockEventLoopInIo; blocked in a timer's callback, Node 22+ reads the answer first and the
    // probe is simply ok).
    for (let i = 0; i < 5; i++) {
      await blockEventLoopInIo(400);
      await new Promise((r) => setTimeout(r, 60));
    }
    // The answer read after the late timer, and not judged: inconclusive, with its status.
    await waitFor(() => results.some((r) => r.inconclusive && r.status === 200), { what: 'an inconclusive probe' });
    expect(states.slice(from)).toEqual([]);
    expect(backendState()).toBe('up');
    expect(p.logs.some((l) => String(l.msg).startsWith('health checks are running late'))).toBe(true);
  });

  it('a real timeout (backend hung, proxy idle) still counts', async () => {
    const from = states.length;
    const fromResult = results.length;
    up.proc.kill('SIGSTOP');
    try {
      await waitFor(() => states.slice(from).includes('down'), { what: 'backend down' });
      // A real failure, not an inconclusive result. (The probes after it wait a timeout on the
      // timed-out one's connection instead of opening another: see health-probe-late.test.ts.)
      expect(results.slice(fromResult).filter((r) => !r.ok && !r.inconclusive).map((r) => r.error)).toContain('timeout after 100ms');
    } finally {
      up.proc.kill('SIGCONT');
    }
  });
});
