/**
 * The controller applies decide()'s waits through its injected scheduler and clock: a trip_after
 * of an hour is waited for by moving the clock and firing the timer, not by sleeping. Real
 * upstreams, real probes and the real file store; only the decisions' timers are the test's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { HealthRegistry } from '../src/health/registry.js';
import { FileStateStore } from '../src/state/file-store.js';
import { LocalCoordinator } from '../src/state/local-coordinator.js';
import { TenantController } from '../src/failover/tenant-controller.js';
import type { Scheduler } from '../src/failover/scheduler.js';
import { FAST_CHECKS, tempDir } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/poll.js';

const HOUR = 3_600_000;

/** Timers that fire only when the test says so. */
class ManualScheduler implements Scheduler {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Run every timer due within `ms`. */
  fire(ms: number): void {
    for (const [id, t] of [...this.pending]) {
      if (t.ms > ms) continue;
      this.pending.delete(id);
      t.fn();
    }
  }
}

let a: Upstream, b: Upstream;
let store: FileStateStore;
let registry: HealthRegistry;
let controller: TenantController | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  store = new FileStateStore(resolve(await tempDir()));
  await store.open();
  registry = new HealthRegistry();
});

afterAll(async () => {
  await controller?.stop();
  await registry?.close();
  await store?.close();
  await stopAll(a, b);
});

describe('a decision to wait, applied with an injected scheduler and clock', () => {
  it('fails over once trip_after has passed on the clock, with no wall-clock wait', async () => {
    const { config, problems } = validateConfig(
      {
        defaults: { health_check: FAST_CHECKS, failover: { trip_after: '1h', min_interval: '0s', drain_timeout: '1s' } },
        tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: [a.url] }, { name: 'b', backends: [b.url] }] } },
      },
      { baseDir: '/tmp' },
    );
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    let offset = 0;
    const now = (): number => Date.now() + offset;
    const scheduler = new ManualScheduler();
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
    const c = (controller = await TenantController.create(config!.tenants[0]!, {
      coordinator: new LocalCoordinator(store, now),
      health: registry,
      logger,
      headers: config!.headers,
      now,
      scheduler,
    }));
    registry.start();
    await waitFor(() => c.site('a')!.health().available && c.site('b')!.health().available, { what: 'both sites available' });
    expect(c.state).toMatchObject({ active: 'a', epoch: 1 });

    // Site a loses its only backend (an operator drain: no probe needs to fail).
    const lostAt = now();
    c.setDrained('a', c.site('a')!.backends[0]!.backend.name, true);
    const wait = [...scheduler.pending.values()];
    expect(wait).toHaveLength(1);
    expect(wait[0]!.ms).toBeGreaterThan(HOUR - 1000);
    expect(wait[0]!.ms).toBeLessThanOrEqual(HOUR + 5);
    expect(c.state).toMatchObject({ active: 'a', phase: 'active' });
    expect(c.slot.route.mode).toBe('hold');

    // An hour later on the clock: the timer fires, the controller decides again and flips.
    offset += HOUR;
    scheduler.fire(HOUR + 5);
    await waitFor(() => c.state.active === 'b' && c.state.phase === 'active', { what: 'failover to b' });
    expect(c.state.epoch).toBe(2);
    expect(c.flips.at(-1)).toMatchObject({ from: 'a', to: 'b', trigger: 'health', result: 'routed' });
    expect(c.flips.at(-1)!.timings.trippedAt - lostAt).toBeGreaterThanOrEqual(HOUR);
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 2 });
    expect(await store.load('t')).toMatchObject({ active: 'b', epoch: 2, phase: 'active', fenced: ['a'] });
  });
});
