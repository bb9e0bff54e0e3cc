/**
 * Issue 23, item 3: a passive report that needs no probe (a refused connection, a reset, a
 * status) is acted on a microtask after the callback that reported it, not on the next turn of
 * the event loop (site-outlier-detector.ts, `soon`): at a kill the next turn came behind the
 * dead keep-alive connections' teardown. Still never from inside the report itself. Slow answers
 * (slow_confirm: a probe decides) keep the later turn. On an injected clock and turn scheduler,
 * with the real queueMicrotask: no sockets, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Backend } from '../src/proxy/backend.js';
import { SiteOutlierDetector, type OutlierScheduler } from '../src/health/site-outlier-detector.js';
import { isEjected, newEjectable } from '../src/health/outlier.js';
import type { MonitoredBackend } from '../src/health/outlier-detector.js';
import type { BackendConfig, PassiveHealthConfig, ProxyConfig } from '../src/config/types.js';
import type { HealthHandle } from '../src/health/registry.js';

const CFG: PassiveHealthConfig = { consecutive_failures: 3, consecutive_refused: 1, statuses: [502, 503, 504], base_ejection: 1000, max_ejection: 4000, max_ejected_percent: 100, slow_after: 100, slow_confirm: true, uneject_on_probe_success: true };

function harness(): { site: SiteOutlierDetector; host: MonitoredBackend & { backend: Backend }; deferred: Array<() => void>; changes: () => number; probes: () => number } {
  const t = 1_000_000;
  const deferred: Array<() => void> = [];
  let changes = 0;
  let probes = 0;
  const scheduler: OutlierScheduler = { now: () => t, defer: (fn) => void deferred.push(fn), soon: (fn) => queueMicrotask(fn), after: () => () => {} };
  const site = new SiteOutlierDetector({ tenant: 't', site: 'a1', config: CFG, log: pino({ level: 'silent' }), scheduler, accepting: () => true, onChange: () => changes++ });
  const bc: BackendConfig = { name: 'b0', url: 'http://127.0.0.1:9', origin: 'http://127.0.0.1:9', weight: 1 };
  const health = {
    check: { state: 'up', confirm: () => (probes++, new Promise(() => {})) },
    everyResult: () => {},
    release: () => {},
  } as unknown as HealthHandle;
  const host = { backend: new Backend('t', 'a1', bc, {} as ProxyConfig, () => t), health, drained: false, confirming: false, passive: newEjectable(), ejectedSince: 0 };
  site.add(host);
  return { site, host, deferred, changes: () => changes, probes: () => probes };
}

describe('a passive report that needs no probe', () => {
  it('a refused connection ejects on a microtask after the report, with no turn of the event loop', async () => {
    const h = harness();
    h.host.backend.passiveRefusal();
    // Not from inside the report (an undici callback).
    expect(isEjected(h.host.passive, 1_000_000)).toBe(false);
    expect(h.changes()).toBe(0);
    await Promise.resolve();
    expect(isEjected(h.host.passive, 1_000_000)).toBe(true);
    expect(h.changes()).toBe(1);
    expect(h.deferred).toHaveLength(0);
  });

  it('so does a streak of statuses; every report of the callback is handled in one microtask turn', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.host.backend.passiveFailure('status');
    await Promise.resolve();
    expect(isEjected(h.host.passive, 1_000_000)).toBe(true);
    expect(h.site.turns).toBe(1);
    expect(h.deferred).toHaveLength(0);
  });

  it('slow answers still wait for the later turn (a probe confirms them); a refusal meanwhile acts at once', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.host.backend.passiveFailure('slow');
    await Promise.resolve();
    expect(h.deferred).toHaveLength(1);
    expect(h.probes()).toBe(0);
    expect(isEjected(h.host.passive, 1_000_000)).toBe(false);
    h.host.backend.passiveRefusal();
    await Promise.resolve();
    expect(isEjected(h.host.passive, 1_000_000)).toBe(true);
    // The turn scheduled for the slow report finds nothing left to do.
    h.deferred.shift()!();
    expect(h.site.turns).toBe(1);
    expect(h.probes()).toBe(0);
  });
});
