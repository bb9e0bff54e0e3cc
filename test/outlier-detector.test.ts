/**
 * Issue 18, step 1: one outlier detector per backend (src/health/outlier-detector.ts), with its
 * site's part (site-outlier-detector.ts), on an injected clock and scheduler: no sockets, no
 * wall-clock sleeps. The data plane's report (Backend.passiveFailure, as the forwarder calls it
 * inside undici's callbacks) only records: the ejection, and the owner's onChange, come on the
 * next turn; every report of a turn costs one scheduled turn; back-offs double up to
 * max_ejection; the site's cap holds until the whole site is failing.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Backend, type PassiveFailure } from '../src/proxy/backend.js';
import { SiteOutlierDetector, type OutlierScheduler } from '../src/health/site-outlier-detector.js';
import { isEjected, newEjectable } from '../src/health/outlier.js';
import type { MonitoredBackend, OutlierDetector } from '../src/health/outlier-detector.js';
import type { BackendConfig, PassiveHealthConfig, ProxyConfig } from '../src/config/types.js';
import type { CheckResult } from '../src/health/active-check.js';
import type { HealthHandle } from '../src/health/registry.js';

const CFG: PassiveHealthConfig = { consecutive_failures: 3, consecutive_refused: 1, statuses: [502, 503, 504], base_ejection: 1000, max_ejection: 4000, max_ejected_percent: 50, slow_after: 0, slow_confirm: true, uneject_on_probe_success: true };

/** Turns and timers by hand: `turn()` runs what was deferred, `advance()` moves the clock and fires due timers. */
class ManualLoop implements OutlierScheduler {
  t = 1_000_000;
  /** defer() calls: one per scheduled turn. */
  defers = 0;
  private deferred: Array<() => void> = [];
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now = (): number => this.t;
  defer(fn: () => void): void {
    this.defers++;
    this.deferred.push(fn);
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => (timer.live = false);
  }
  turn(): void {
    for (const fn of this.deferred.splice(0)) fn();
  }
  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.live && x.at <= this.t)) {
      timer.live = false;
      timer.fn();
    }
  }
}

interface Harness {
  loop: ManualLoop;
  site: SiteOutlierDetector;
  hosts: Array<MonitoredBackend & { backend: Backend }>;
  detectors: OutlierDetector[];
  changes: number;
  ejections: Array<[string, string, string, number, PassiveFailure]>;
  /** What a confirming probe answers (slow_confirm). */
  probe: Partial<CheckResult>;
}

function harness(n: number, cfg: Partial<PassiveHealthConfig> = {}): Harness {
  const loop = new ManualLoop();
  const h = { loop, hosts: [], detectors: [], changes: 0, ejections: [], probe: { ok: true } } as unknown as Harness;
  h.site = new SiteOutlierDetector({
    tenant: 't',
    site: 'a1',
    config: { ...CFG, ...cfg },
    log: pino({ level: 'silent' }),
    scheduler: loop,
    accepting: () => true,
    onChange: () => h.changes++,
    events: { onEjection: (...args) => h.ejections.push(args) },
  });
  for (let i = 0; i < n; i++) {
    const bc: BackendConfig = { name: `b${i}`, url: `http://127.0.0.1:${1000 + i}`, origin: `http://127.0.0.1:${1000 + i}`, weight: 1 };
    const health = {
      check: { state: 'up', confirm: () => Promise.resolve({ ok: false, durationMs: 1, at: loop.t, ...h.probe }) },
      everyResult: () => {},
      release: () => {},
    } as unknown as HealthHandle;
    const host = { backend: new Backend('t', 'a1', bc, {} as ProxyConfig, loop.now), health, drained: false, confirming: false, passive: newEjectable(), ejectedSince: 0 };
    h.hosts.push(host);
    h.detectors.push(h.site.add(host));
  }
  return h;
}

/** What the forwarder does on a failed attempt, `times` times. */
function fail(b: Backend, times: number, kind: PassiveFailure = 'reset'): void {
  for (let i = 0; i < times; i++) b.passiveFailure(kind);
}

describe('outlier detector', () => {
  it('does not eject from inside the report: the ejection and onChange come on the next turn', () => {
    const h = harness(2);
    const b0 = h.hosts[0]!;
    let ejectedInCallback: boolean | undefined;
    // As inside an undici callback: the streak reaches consecutive_failures there.
    const callback = (): void => {
      fail(b0.backend, 3);
      ejectedInCallback = isEjected(b0.passive, h.loop.t);
    };
    callback();
    expect(ejectedInCallback).toBe(false);
    expect(h.changes).toBe(0);
    expect(h.ejections).toEqual([]);
    expect(h.loop.defers).toBe(1);
    h.loop.turn();
    expect(isEjected(b0.passive, h.loop.t)).toBe(true);
    expect(b0.ejectedSince).toBe(1_000_000);
    expect(h.ejections).toEqual([['t', 'a1', 'b0', 1000, 'reset']]);
    expect(h.changes).toBe(1);
    // The streak is spent: the backend starts a new one when it comes back.
    expect(b0.backend.passiveFailures).toBe(0);
  });

  it('handles every report of a turn in one scheduled turn, and tells the owner once', () => {
    const h = harness(4, { max_ejected_percent: 100 });
    // Three backends trip in the same turn, each reported again by further failures.
    for (const host of h.hosts.slice(0, 3)) fail(host.backend, 6, 'status');
    expect(h.loop.defers).toBe(1);
    h.loop.turn();
    expect(h.site.turns).toBe(1);
    expect(h.hosts.map((x) => isEjected(x.passive, h.loop.t))).toEqual([true, true, true, false]);
    expect(h.ejections.map((e) => e[2])).toEqual(['b0', 'b1', 'b2']);
    expect(h.changes).toBe(1);
    // A report after the turn asks for a new one.
    fail(h.hosts[3]!.backend, 3);
    expect(h.loop.defers).toBe(2);
  });

  it('doubles the back-off with each ejection up to max_ejection, each ending on its own timer', () => {
    const h = harness(1);
    const b0 = h.hosts[0]!;
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      fail(b0.backend, 3);
      h.loop.turn();
      const ms = h.ejections.at(-1)![3];
      times.push(ms);
      h.loop.advance(ms - 1);
      expect(isEjected(b0.passive, h.loop.t)).toBe(true);
      const before = h.changes;
      h.loop.advance(1);
      expect(isEjected(b0.passive, h.loop.t)).toBe(false);
      expect(b0.ejectedSince).toBe(0);
      expect(h.changes).toBe(before + 1); // the end of the back-off is a change too
    }
    expect(times).toEqual([1000, 2000, 4000, 4000]);
  });

  it('ejects at most max_ejected_percent of the site, unless the whole site is failing', () => {
    const h = harness(4); // 50 % of 4: two
    for (const host of h.hosts.slice(0, 3)) fail(host.backend, 3);
    h.loop.turn();
    expect(h.hosts.map((x) => isEjected(x.passive, h.loop.t))).toEqual([true, true, false, false]);
    // b2 is still failing (its streak stands), and now b3 too: the site is down, the cap is lifted.
    expect(h.hosts[2]!.backend.passiveTripped).toBe(true);
    fail(h.hosts[3]!.backend, 3);
    h.loop.turn();
    expect(isEjected(h.hosts[3]!.passive, h.loop.t)).toBe(true);
    expect(h.ejections.map((e) => e[2])).toEqual(['b0', 'b1', 'b3']);
  });

  it('confirms slow answers with a probe before ejecting, and lets a backend back when a probe passes', async () => {
    const h = harness(2);
    const b0 = h.hosts[0]!;
    h.probe = { ok: false, error: 'HTTP 503' };
    fail(b0.backend, 3, 'slow');
    h.loop.turn();
    expect(b0.confirming).toBe(true);
    expect(isEjected(b0.passive, h.loop.t)).toBe(false);
    await Promise.resolve(); // the probe's answer
    await Promise.resolve();
    expect(b0.confirming).toBe(false);
    expect(h.ejections).toEqual([['t', 'a1', 'b0', 1000, 'slow']]);
    expect(h.changes).toBe(1);
    // A probe sent after the ejection began passes: the ejection ends before its back-off.
    h.loop.advance(10);
    h.detectors[0]!.probeResult({ ok: true, at: h.loop.t, durationMs: 5 }, true);
    expect(isEjected(b0.passive, h.loop.t)).toBe(false);
    expect(h.changes).toBe(2);
  });

  it('drops reports once stopped', () => {
    const h = harness(1);
    fail(h.hosts[0]!.backend, 3);
    h.site.stop();
    h.loop.turn();
    expect(isEjected(h.hosts[0]!.passive, h.loop.t)).toBe(false);
    expect(h.changes).toBe(0);
    expect(h.hosts[0]!.backend.onPassiveTrip).toBeUndefined();
  });
});
