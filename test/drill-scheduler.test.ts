/**
 * The drill scheduler (src/drill/scheduler.ts) with an injected clock and timers: no sleeps. The
 * drill service is the test's (what it returns is what a real one would); the store is in memory.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Config, DrillSchedule, TenantConfig } from '../src/config/types.js';
import type { Scheduler } from '../src/failover/scheduler.js';
import { DrillScheduler, MAX_TIMER_MS, type ScheduledDrillService } from '../src/drill/scheduler.js';
import { skippedReport } from '../src/drill/skipped.js';
import type { DrillReason, DrillReport, DrillRequest } from '../src/drill/types.js';
import { MemoryDrillStore } from './helpers/drill-memory-store.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SUN = Date.UTC(2026, 11, 6);
const TIER = { name: 'BC', rpo: 15 * MIN, rto: 15 * MIN, drill_interval: 30 * DAY };

/** Timers due on the test's clock; `advance` moves the clock and runs what came due. */
class Clock implements Scheduler {
  t = SUN + 10 * HOUR;
  private id = 1;
  readonly timers = new Map<number, { fn: () => void; at: number; ms: number }>();
  now = (): number => this.t;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.id++;
    this.timers.set(id, { fn, at: this.t + ms, ms });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Run timers due now (repeatedly: one may arm another due at once). */
  async run(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const due = [...this.timers].filter(([, x]) => x.at <= this.t);
      if (due.length === 0) {
        await new Promise((r) => setImmediate(r));
        if (![...this.timers.values()].some((x) => x.at <= this.t)) return;
        continue;
      }
      for (const [id, x] of due) {
        this.timers.delete(id);
        x.fn();
      }
      await new Promise((r) => setImmediate(r));
    }
  }
  async advance(ms: number): Promise<void> {
    // Step through timers on the way, as real time would.
    const end = this.t + ms;
    for (;;) {
      const next = Math.min(...[...this.timers.values()].map((x) => x.at));
      if (!(next <= end)) break;
      this.t = Math.max(this.t, next);
      await this.run();
    }
    this.t = end;
    await this.run();
  }
}

class FakeService implements ScheduledDrillService {
  readonly runs: DrillRequest[] = [];
  refuse: DrillReason[] = [];
  /** Set: each drill runs until the test calls its release (held[i]()). */
  hold = false;
  readonly held: Array<() => void> = [];
  constructor(private readonly store: MemoryDrillStore, private readonly clock: Clock) {}
  preflight(): Promise<DrillReason[]> {
    return Promise.resolve(this.refuse);
  }
  async run(req: DrillRequest): Promise<DrillReport> {
    this.runs.push(req);
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    const r = { ...skippedReport({ req, reasons: [], tier: TIER, from: 'a', epoch: 1, now: this.clock.t, dwellMs: 0 }), status: 'passed' as const, steps: [] };
    await this.store.put(r);
    return r;
  }
}

function setup(schedules: DrillSchedule[], opts: { leading?: () => boolean; alerts?: (t: string) => DrillReason[]; store?: MemoryDrillStore; clock?: Clock; parallel?: number } = {}) {
  const clock = opts.clock ?? new Clock();
  const store = opts.store ?? new MemoryDrillStore();
  const service = new FakeService(store, clock);
  const tenants = ['t1', 't2'].map((name) => ({ name, tier: TIER }) as unknown as TenantConfig);
  let config = { tenants, drills: { schedules, parallel: opts.parallel ?? 10 } } as unknown as Pick<Config, 'drills' | 'tenants'>;
  const skipped: DrillReport[] = [];
  const s = new DrillScheduler({
    config: () => config,
    service,
    store,
    alerts: opts.alerts ?? (() => []),
    skipped: (req, reasons) => skippedReport({ req, reasons, tier: TIER, from: 'a', epoch: 1, now: clock.t, dwellMs: 0 }),
    leading: opts.leading ?? (() => true),
    now: clock.now,
    timers: clock,
    random: () => 0,
    log: pino({ level: 'silent' }),
    onSkipped: (r) => skipped.push(r),
  });
  return { clock, store, service, s, skipped, setConfig: (sch: DrillSchedule[]) => (config = { tenants, drills: { schedules: sch, parallel: opts.parallel ?? 10 } } as unknown as typeof config) };
}

const sched = (s: Partial<DrillSchedule>): DrillSchedule => ({ tenants: [], tiers: [], windows: [], blocked: [], jitter: 0, ...s });

describe('drill scheduler', () => {
  it('starts a drill when due, through the service, as the scheduler, naming the schedule; then every', async () => {
    const { clock, service, s } = setup([sched({ tenants: ['t1'], every: DAY })]);
    s.start();
    await clock.run();
    expect(service.runs).toEqual([expect.objectContaining({ tenant: 't1', trigger: 'schedule', actor: 'scheduler', failback: true, reason: 'scheduled drill (drills.schedules[0])' })]);
    await s.settled();
    expect(s.upcoming().get('t1')).toBe(SUN + 10 * HOUR + DAY);
    await clock.advance(DAY - MIN);
    expect(service.runs).toHaveLength(1);
    await clock.advance(MIN);
    expect(service.runs).toHaveLength(2);
    s.stop();
  });

  it('waits for the window, and a tier schedule drills every tenant of the tier', async () => {
    // Tuesdays 02:00-03:00 UTC; now is Sunday 10:00.
    const { clock, service, s } = setup([sched({ tiers: ['BC'], windows: [{ days: [2], start: 120, end: 180 }] })]);
    s.start();
    await clock.run();
    expect(service.runs).toHaveLength(0);
    expect(s.upcoming().get('t1')).toBe(SUN + 2 * DAY + 2 * HOUR);
    // No timer longer than the chunk (Node's maximum is ~24.8 days).
    expect(Math.max(...[...clock.timers.values()].map((x) => x.ms))).toBeLessThanOrEqual(MAX_TIMER_MS);
    await clock.advance(2 * DAY - 8 * HOUR - MIN);
    expect(service.runs).toHaveLength(0);
    await clock.advance(MIN);
    expect(service.runs.map((r) => r.tenant).sort()).toEqual(['t1', 't2']);
    // Once per window opening: the next is next Tuesday.
    await clock.advance(30 * MIN);
    expect(service.runs).toHaveLength(2);
    expect(s.upcoming().get('t1')).toBe(SUN + 9 * DAY + 2 * HOUR);
    s.stop();
  });

  it('a 30-day interval is waited for in chunks below the timer maximum', async () => {
    const store = new MemoryDrillStore();
    const clock = new Clock();
    // The last scheduled drill ran 1 day ago (a restart must not drill again at once).
    const req: DrillRequest = { tenant: 't1', failback: true, reason: 'x', actor: 'scheduler', trigger: 'schedule' };
    await store.put({ ...skippedReport({ req, reasons: [], tier: TIER, from: 'a', epoch: 1, now: clock.t - DAY, dwellMs: 0 }), status: 'passed' });
    const { service, s } = setup([sched({ tenants: ['t1'], every: 30 * DAY })], { store, clock });
    s.start();
    await clock.run();
    await s.settled();
    expect(service.runs).toHaveLength(0);
    expect(s.upcoming().get('t1')).toBe(clock.t + 29 * DAY);
    for (const x of clock.timers.values()) expect(x.ms).toBeLessThanOrEqual(MAX_TIMER_MS);
    await clock.advance(29 * DAY - MIN);
    expect(service.runs).toHaveLength(0);
    await clock.advance(MIN);
    expect(service.runs).toHaveLength(1);
    s.stop();
  });

  it('skipped, with the reason stored, while an alert is firing', async () => {
    const firing: DrillReason[] = [{ code: 'alert_frozen', message: 'tenant is frozen' }];
    const { clock, service, s, store, skipped } = setup([sched({ tenants: ['t1'], every: DAY })], { alerts: (t) => (t === 't1' ? firing : []) });
    s.start();
    await clock.run();
    await s.settled();
    await clock.run();
    expect(service.runs).toHaveLength(0);
    expect(skipped).toHaveLength(1);
    const stored = await store.get(skipped[0]!.id);
    expect(stored).toMatchObject({ status: 'skipped', tenant: 't1', trigger: 'schedule', actor: 'scheduler', reasons: firing });
    // The slot is used: the next attempt is a day later, not at once.
    expect(s.upcoming().get('t1')).toBe(SUN + 10 * HOUR + DAY);
    s.stop();
  });

  it('skipped, with preflight reasons stored, when preflight refuses it', async () => {
    const { clock, service, s, store, skipped } = setup([sched({ tenants: ['t2'], every: DAY })]);
    service.refuse = [{ code: 'stale', message: 'data age 3600 s is over the BC RPO of 900 s', site: 'b' }];
    s.start();
    await clock.run();
    await s.settled();
    await clock.run();
    expect(service.runs).toHaveLength(0);
    expect(skipped.map((r) => r.tenant)).toEqual(['t2']);
    expect((await store.get(skipped[0]!.id)) as DrillReport).toMatchObject({ status: 'skipped', reasons: service.refuse });
    s.stop();
  });

  it('only the leader starts drills; a new leader reads the last drills from the store', async () => {
    let leading = false;
    const { clock, service, s, store } = setup([sched({ tenants: ['t1'], every: DAY })], { leading: () => leading });
    s.start();
    await clock.advance(HOUR);
    expect(service.runs).toHaveLength(0);
    // Another replica (the old leader) ran the drill meanwhile: it is in the shared store.
    const req: DrillRequest = { tenant: 't1', failback: true, reason: 'x', actor: 'scheduler', trigger: 'schedule' };
    const ranAt = clock.t - 10 * MIN;
    await store.put({ ...skippedReport({ req, reasons: [], tier: TIER, from: 'a', epoch: 1, now: ranAt, dwellMs: 0 }), status: 'passed' });
    leading = true;
    await clock.advance(MIN);
    await s.settled();
    expect(service.runs).toHaveLength(0);
    expect(s.upcoming().get('t1')).toBe(ranAt + DAY);
    s.stop();
  });

  it('a reload follows the new schedules', async () => {
    const { clock, service, s, setConfig } = setup([sched({ tenants: ['t1'], windows: [{ days: [2], start: 120, end: 180 }] })]);
    s.start();
    await clock.run();
    await s.settled();
    expect([...s.upcoming().keys()]).toEqual(['t1']);
    setConfig([sched({ tenants: ['t2'], every: DAY })]);
    s.reload();
    await clock.run();
    await s.settled();
    await clock.run();
    expect(service.runs.map((r) => r.tenant)).toEqual(['t2']);
    expect([...s.upcoming().keys()]).toEqual(['t2']);
    setConfig([]);
    s.reload();
    await clock.run();
    await s.settled();
    expect(s.upcoming().size).toBe(0);
    await clock.advance(10 * DAY);
    expect(service.runs).toHaveLength(1);
    s.stop();
  });

  it('at most drills.parallel scheduled drills at once; the others wait their turn, inside their window', async () => {
    // Both tenants due at once in a 1-hour window, one drill at a time.
    const { clock, service, s } = setup([sched({ tiers: ['BC'], windows: [{ days: [0], start: 600, end: 660 }] })], { parallel: 1 });
    service.hold = true;
    s.start();
    await clock.run();
    await s.settled();
    expect(service.runs.map((r) => r.tenant)).toEqual(['t1']);
    // No busy loop while the second waits: no timer due now.
    expect([...clock.timers.values()].some((x) => x.at <= clock.t)).toBe(false);
    await clock.advance(10 * MIN);
    expect(service.runs).toHaveLength(1);
    service.held[0]!();
    await clock.run();
    await s.settled();
    await clock.run();
    expect(service.runs.map((r) => r.tenant)).toEqual(['t1', 't2']);
    // The second took the whole window: the next due one waits for next week's window.
    await clock.advance(60 * MIN);
    service.held[1]!();
    await clock.run();
    await s.settled();
    expect(s.upcoming().get('t1')).toBe(SUN + 7 * DAY + 10 * HOUR);
    s.stop();
  });

  it('a drill that waited past its window is planned for the next window, not started late', async () => {
    const { clock, service, s } = setup([sched({ tiers: ['BC'], windows: [{ days: [0], start: 600, end: 630 }] })], { parallel: 1 });
    service.hold = true;
    s.start();
    await clock.run();
    await s.settled();
    expect(service.runs.map((r) => r.tenant)).toEqual(['t1']);
    await clock.advance(45 * MIN);
    service.held[0]!();
    await clock.run();
    await s.settled();
    await clock.run();
    expect(service.runs).toHaveLength(1);
    expect(s.upcoming().get('t2')).toBe(SUN + 7 * DAY + 10 * HOUR);
    s.stop();
  });
});
