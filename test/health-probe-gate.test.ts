/**
 * The process-wide cap on probes in flight applies only while drproxy is busy. When a whole
 * region hangs, thousands of probes wait on it at once, costing nothing while they wait: a cap
 * that held then let only cap / timeout of them run a second, and failovers came many times
 * later than interval × fall + timeout. While the process has time to spare, probes beyond the
 * cap go a few per turn of the event loop; while it is busy, they wait for a place.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { setImmediate as turn } from 'node:timers/promises';
import { ProbeGate } from '../src/health/probe-gate.js';
import { HealthRegistry } from '../src/health/registry.js';
import type { HealthHandle } from '../src/health/registry.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { waitFor } from './helpers/poll.js';

describe('ProbeGate', () => {
  it('lets probes under the cap go at once', () => {
    const gate = new ProbeGate(2);
    expect(gate.enter()).toBeUndefined();
    expect(gate.enter()).toBeUndefined();
    expect(gate.stats).toEqual({ active: 2, waiting: 0, busy: false });
  });

  it('while the process is not busy, lets probes beyond the cap go within a few turns, a bounded number per turn', async () => {
    const gate = new ProbeGate(1);
    gate.enter();
    let passed = 0;
    const waits = Array.from({ length: 100 }, () => gate.enter()!.then(() => void passed++));
    expect(passed).toBe(0); // never in the same turn: a burst is spread
    await turn();
    expect(passed).toBeGreaterThan(0);
    expect(passed).toBeLessThan(100);
    await Promise.all(waits);
    expect(gate.stats).toEqual({ active: 101, waiting: 0, busy: false });
  });

  it('while the process is busy, holds probes beyond the cap until one in flight ends, and lets them go when it is busy no more', async () => {
    const gate = new ProbeGate(1);
    gate.setBusy(true);
    gate.enter();
    let passed = 0;
    const waits = Array.from({ length: 3 }, () => gate.enter()!.then(() => void passed++));
    for (let i = 0; i < 5; i++) await turn();
    expect(passed).toBe(0);
    gate.leave();
    await turn();
    expect(passed).toBe(1);
    gate.setBusy(false);
    await Promise.all(waits);
    expect(passed).toBe(3);
    expect(gate.stats.waiting).toBe(0);
  });
});

describe('a hung region behind a small cap', () => {
  let up: Upstream | undefined;
  let reg: HealthRegistry | undefined;
  const handles: HealthHandle[] = [];

  afterEach(async () => {
    for (const h of handles.splice(0)) h.release();
    await reg?.close();
    await up?.kill('SIGCONT');
    await stopAll(up);
    reg = up = undefined;
  });

  it('20 checks of a SIGSTOPped backend, cap 2: all down within about one timeout, not 20 × timeout / 2', async () => {
    up = await startUpstream('hung');
    // Distinct paths: 20 probe loops, as 20 backends would be.
    const TIMEOUT = 400;
    reg = new HealthRegistry(undefined, { maxInFlight: 2 });
    for (let i = 0; i < 20; i++) {
      const hc = healthCheckConfig({ path: `/healthz?i=${i}`, interval: '200ms', timeout: `${TIMEOUT}ms`, rise: 1, fall: 1, jitter: 0 });
      handles.push(reg.acquire(up.url, hc, { onResult() {} }));
    }
    reg.start();
    await waitFor(() => handles.every((h) => h.check.state === 'up'), { what: 'every check up' });
    await up.kill('SIGSTOP');
    const hungAt = performance.now();
    // A cap that held would take 20 × 400 ms / 2 = 4 s; unheld, one interval and one timeout.
    await waitFor(() => handles.every((h) => h.check.state === 'down'), { what: 'every check down', timeout: 2500 });
    expect(performance.now() - hungAt).toBeLessThan(2500);
  });
});
