/**
 * The outlier detection of one site (Envoy's DetectorImpl, one per cluster): the per-backend
 * detectors (outlier-detector.ts) of its backends, the one turn that acts on their reports, and
 * the site's ejection cap (max_ejected_percent, lifted when the whole site is failing: outlier.ts).
 *
 * The data plane reports from inside a request's callbacks; nothing is decided there. Every
 * report since the last turn is handled on one later turn, and the owner hears of the outcome
 * through `onChange`, never synchronously from a report. A report that needs no probe (a
 * refusal, a reset, a timeout, a status: anything but `slow`) is acted on `soon`, a microtask
 * after the callback that reported it has returned; `slow` waits for the scheduler's `defer`
 * (setImmediate). At a kill, the setImmediate came 2 ms after the report, behind the dead
 * keep-alive connections' teardown in the same poll phase (bench/kill-gap.js): with the
 * microtask the flip starts first, and that teardown runs while its epoch is being persisted.
 */
import type { PassiveHealthConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PassiveFailure } from '../proxy/backend.js';
import { isEjected, tryEject } from './outlier.js';
import { OutlierDetector, type MonitoredBackend } from './outlier-detector.js';

/** Time and turns, injected by tests (no wall-clock sleeps). */
export interface OutlierScheduler {
  now(): number;
  /** Run `fn` on a later turn of the event loop. */
  defer(fn: () => void): void;
  /**
   * Run `fn` once the current callback has returned (a microtask); without it, `defer`. Never
   * synchronously: the reporter's stack (undici's) is unwound first.
   */
  soon?(fn: () => void): void;
  /** Run `fn` after `ms` (an ejection's back-off); returns what cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** The event loop's: setImmediate, and unref'd timers that never keep the process up. */
export function loopScheduler(now: () => number = Date.now): OutlierScheduler {
  return {
    now,
    defer: (fn) => void setImmediate(fn),
    soon: (fn) => queueMicrotask(fn),
    after: (ms, fn) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return () => clearTimeout(t);
    },
  };
}

/** For metrics, logs and tests; the same arguments as ControllerHooks' (docs and metrics rely on them). */
export interface OutlierEvents {
  /** A backend was ejected by passive health. */
  onEjection?(tenant: string, site: string, backend: string, ms: number, kind: PassiveFailure): void;
  /** A backend's slow answers were not confirmed: it answered the probe sent for them. */
  onSlowUnconfirmed?(tenant: string, site: string, backend: string): void;
}

export interface SiteOutlierOptions {
  tenant: string;
  site: string;
  config: PassiveHealthConfig;
  log: Logger;
  scheduler?: OutlierScheduler;
  /** The owner takes changes now (initialised, neither quiesced nor stopped); reports meanwhile are dropped. */
  accepting(): boolean;
  /** Some backend's ejection began or ended: called on a later turn than any report. */
  onChange(): void;
  events?: OutlierEvents;
}

export class SiteOutlierDetector {
  readonly tenant: string;
  readonly site: string;
  readonly config: PassiveHealthConfig;
  readonly log: Logger;
  readonly scheduler: OutlierScheduler;
  readonly events: OutlierEvents | undefined;
  readonly detectors: OutlierDetector[] = [];
  /** Detectors with reports since the last turn, in the order of their first report. */
  private readonly due: OutlierDetector[] = [];
  private scheduled = false;
  /** A microtask turn is queued (schedule with `soon`). */
  private urgent = false;
  private stopped = false;
  /** Turns run so far (tests: reports in one turn cost one). */
  turns = 0;

  constructor(private readonly opts: SiteOutlierOptions) {
    this.tenant = opts.tenant;
    this.site = opts.site;
    this.config = opts.config;
    this.log = opts.log;
    this.scheduler = opts.scheduler ?? loopScheduler();
    this.events = opts.events;
  }

  /** Watch a backend: its detector takes its passive reports from now on. */
  add(host: MonitoredBackend): OutlierDetector {
    const d = new OutlierDetector(this, host);
    this.detectors.push(d);
    return d;
  }

  accepting(): boolean {
    return !this.stopped && this.opts.accepting();
  }

  /**
   * A detector has a report: it is handled, with every other one, on the next turn; `soon` (a
   * report no probe needs to confirm) on a microtask, even if a later turn is already scheduled
   * (that one then finds nothing due).
   */
  schedule(d: OutlierDetector, soon = false): void {
    if (!this.due.includes(d)) this.due.push(d);
    if (soon && this.scheduler.soon !== undefined) {
      if (this.urgent) return;
      this.urgent = true;
      this.scheduler.soon(this.soonTurn);
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    this.scheduler.defer(this.turn);
  }

  private readonly soonTurn = (): void => {
    this.urgent = false;
    if (this.due.length !== 0) this.run();
  };

  /** The turn after reports: act on each, then tell the owner once. */
  private readonly turn = (): void => {
    this.scheduled = false;
    if (this.due.length !== 0) this.run();
  };

  private run(): void {
    this.turns++;
    const due = this.due.splice(0);
    const take = this.accepting();
    let changed = false;
    for (const d of due) if (d.act(take)) changed = true;
    if (changed) this.changed();
  }

  /** Tell the owner that an ejection began or ended. */
  changed(): void {
    if (!this.stopped) this.opts.onChange();
  }

  /**
   * The back-off for ejecting `target` now, or undefined when it is out already or the site's
   * cap is reached and the rest of the site is not failing too (outlier.ts, tryEject).
   */
  admit(target: OutlierDetector, now: number): number | undefined {
    const hosts = this.detectors.map((d) => d.host);
    const wholeSite = hosts.every(
      (b) => b === target.host || b.drained || isEjected(b.passive, now) || b.backend.passiveTripped || b.health.check.state === 'down',
    );
    return tryEject(this.config, target.host.passive, hosts.map((b) => b.passive), now, wholeSite);
  }

  /** No more turns, back-offs or reports (the owner stops). */
  stop(): void {
    this.stopped = true;
    for (const d of this.detectors) d.stop();
  }
}
