/**
 * The RTO figure's tests (issue 17, item 1): a proxy whose control-plane clock the test moves
 * minutes ahead in a moment (DrProxyOptions.now) instead of waiting minutes, and the check that
 * a health flip's duration is its own, in the flip record, GET /tenants/:t and /metrics.
 */
import { expect } from 'vitest';
import type { FlipRecord } from '../../src/failover/flip.js';
import { admin, adminTokens, VIEWER } from './admin.js';
import { waitFor } from './poll.js';
import { parseExposition, value } from './prom.js';
import { sitesHealthy, startProxy, type TestProxy } from './proxy.js';
import { startUpstream, stopAll, type Upstream } from './upstream.js';

export const MINUTE = 60_000;

/**
 * Health checks for these tests: fast, but with a timeout a loaded CI machine does not hit by
 * accident. A stray timeout on a healthy backend would start a failure streak of its own (or
 * take it down) and move the flip before the clock's jump, which the tests would then catch.
 */
export const RTO_CHECKS = { interval: '500ms', timeout: '400ms', rise: 1, fall: 2, jitter: 0 };

/** Wall clock that a test jumps ahead. */
export class JumpClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  /** Move the clock `ms` ahead; returns the new time. */
  jump(ms: number): number {
    this.offset += ms;
    return this.now();
  }
}

export interface RtoSetup {
  p: TestProxy;
  clock: JumpClock;
  /** Site a1's backends, in config order. */
  a1: Upstream[];
  /** Site b1's one backend. */
  b1: Upstream;
  stop(): Promise<void>;
}

/**
 * Tenant t (host t.example.com, tier BC: RTO 15 min) with site a1 of `backends` upstreams and
 * site b1 of one, on a JumpClock; resolves once both sites are healthy.
 */
export async function startRtoProxy(backends: number, defaults: Record<string, unknown>, a1Extra: Record<string, unknown> = {}): Promise<RtoSetup> {
  const ups = await Promise.all([...Array.from({ length: backends }, (_, i) => startUpstream(`a1-${i}`)), startUpstream('b1')]);
  const a1 = ups.slice(0, backends);
  const b1 = ups[backends]!;
  const clock = new JumpClock();
  const p = await startProxy(
    {
      admin: adminTokens(),
      defaults,
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: a1.map((u) => u.url), ...a1Extra }, { name: 'b1', backends: [b1.url] }] } },
    },
    { now: clock.now },
  );
  await sitesHealthy(p, 't');
  // Every backend up, not only min_healthy of them.
  await waitFor(() => p.proxy.tenant('t')!.sites.every((site) => site.backends.every((b) => b.health.check.state === 'up')), { what: 'every backend up' });
  return {
    p,
    clock,
    a1,
    b1,
    async stop() {
      await p.stop();
      await stopAll(...ups);
    },
  };
}

/** The check of a backend of site a1 (by index) as the tenant sees it. */
export function checkState(s: RtoSetup, i: number): string {
  return s.p.proxy.tenant('t')!.site('a1')!.backends[i]!.health.check.state;
}

/**
 * No flip yet: the site has not lost its last needed backend (called before the clock's last
 * jump). A flip here means a healthy backend failed its checks too: a machine too loaded for
 * even RTO_CHECKS' timeout.
 */
export function expectNoFlip(s: RtoSetup): void {
  const t = s.p.proxy.tenant('t')!;
  expect(t.flips.map((f) => f.reason), 'no flip before the last failure').toEqual([]);
  expect(t.state.active).toBe('a1');
}

/** Wait for the tenant's health flip to b1 and return its record. */
export async function routedFlip(s: RtoSetup): Promise<FlipRecord> {
  return waitFor(() => s.p.proxy.tenant('t')!.flips.find((f) => f.result === 'routed' && f.trigger === 'health' && f.to === 'b1'), { what: 'health flip to b1' });
}

/**
 * The flip's duration is its own: detection started after `lastJump` (the clock's last jump,
 * before the failure that took site a1 below min_healthy), and the duration, the same in the
 * record, GET /tenants/t and /metrics, is a few seconds at most, not the minutes of the site's
 * history.
 */
export async function expectOwnDuration(s: RtoSetup, flip: FlipRecord, lastJump: number): Promise<void> {
  expect(flip.durationMs).toBeLessThan(5_000);
  expect(flip.durationMs).toBeGreaterThanOrEqual(0);
  expect(flip.durationMs).toBe(flip.timings.routedAt - flip.timings.detectedAt);
  // A second's slack: a probe sent just before the jump and failed just after has its start on
  // the new clock, up to its own duration early.
  expect(flip.timings.detectedAt).toBeGreaterThan(lastJump - 1_000);
  const t = await admin(s.p.adminUrl, 'GET', '/tenants/t', { token: VIEWER });
  expect(t.status).toBe(200);
  const listed = (t.body.flips as FlipRecord[]).find((f) => f.epoch === flip.epoch)!;
  expect(listed.durationMs).toBe(flip.durationMs);
  const labels = { tenant: 't', tier: 'BC' };
  // The metrics take the flip once its completion is committed, just after its record.
  const m = await waitFor(
    async () => {
      const e = parseExposition((await admin(s.p.adminUrl, 'GET', '/metrics')).text);
      return value(e, 'drproxy_failover_duration_seconds_count', labels) === 1 ? e : undefined;
    },
    { what: 'the flip in /metrics' },
  );
  expect(value(m, 'drproxy_failover_duration_seconds_sum', labels)).toBeCloseTo(flip.durationMs / 1000, 6);
  expect(value(m, 'drproxy_failover_rto_ratio', labels)).toBeCloseTo(flip.durationMs / (15 * MINUTE), 9);
}
