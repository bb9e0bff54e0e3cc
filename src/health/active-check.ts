/**
 * One active health check loop: probes a backend on its interval (with jitter, and a faster
 * interval while the backend is changing state), judges the answer against the expected status
 * ranges and body, and feeds the hysteresis. Checks use their own keep-alive dispatcher so that
 * a busy data-plane pool never delays a probe.
 */
import type { HealthCheckConfig } from '../config/types.js';
import { Hysteresis, type HealthState } from './hysteresis.js';
import { Probe, type Verdict } from './probe.js';
import type { ProbeGate } from './probe-gate.js';
import type { ProbeDispatcher } from './probe-client.js';
import { originServername, type NamedDispatch } from '../tls-name.js';
import type { LatencyCounts } from '../request-latency.js';

export { describeError, inconclusiveWait } from './probe.js';

export interface CheckResult {
  ok: boolean;
  /**
   * The probe says nothing about the backend: its timeout fired far later than scheduled,
   * because this process was too busy. It is not fed to the hysteresis: an overloaded proxy
   * must never mark healthy backends down and fail tenants over.
   */
  inconclusive?: boolean;
  /** HTTP status, when an answer came. */
  status?: number;
  /** Why the check failed, in a few words. */
  error?: string;
  durationMs: number;
  /** Data age in seconds read from the body, when data_age is configured and present. */
  dataAgeSeconds?: number;
  at: number;
}

export interface CheckListener {
  /**
   * Results after the hysteresis has taken them: those that changed the state or are
   * inconclusive, and every result when `everyResult` is set.
   */
  onResult(result: CheckResult, state: HealthState, changed: boolean): void;
  everyResult?: boolean;
}

/**
 * Every result of one check, for the metrics, which read it at scrape time (Metrics folds it
 * into each tenant site that lists the backend): a shared probe's result is counted once here
 * instead of once per tenant on the probe's path.
 */
export class CheckTally {
  ok = 0;
  fail = 0;
  inconclusive = 0;
  constructor(readonly durations?: LatencyCounts) {}

  add(r: CheckResult): void {
    if (r.inconclusive) this.inconclusive++;
    else if (r.ok) this.ok++;
    else this.fail++;
    this.durations?.observe(r.durationMs / 1000);
  }
}

/** One backend's active health check: sends probes on its cadence (probe.ts), keeps the results and the hysteresis. */
export class ActiveCheck {
  readonly hysteresis: Hysteresis;
  /** Every result so far (metrics). */
  readonly tally: CheckTally;
  /** Time of the first failure of the current failing streak (detection start), or 0. */
  firstFailureAt = 0;
  lastResult: CheckResult | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the current (or last) probe of the loop was due (performance.now()): the cadence's anchor. */
  private due = 0;
  private running = false;
  private stopped = true;
  /**
   * Probes of this check that timed out and still hold their connection: still connecting, or
   * their request still unanswered (see send() and Probe.timedOut()).
   */
  private stuck = 0;
  /** Probes waiting for a stuck one to end (waitForStuck). */
  private readonly stuckWaiters = new Set<(answer: Verdict | undefined) => void>();
  /** Built once: a probe's request never changes. */
  private readonly dispatchOptions: NamedDispatch;

  constructor(
    readonly origin: string,
    private cfg: HealthCheckConfig,
    private readonly dispatcher: ProbeDispatcher,
    private readonly listener: CheckListener,
    private readonly gate?: ProbeGate,
    durations?: LatencyCounts,
    /** The wall clock of results' `at` (the controller's clock: tests inject one). */
    readonly now: () => number = Date.now,
    /** The site's tls.servername: the TLS name to check instead of the backend's host. */
    servername?: string,
  ) {
    this.hysteresis = new Hysteresis(cfg.rise, cfg.fall);
    this.tally = new CheckTally(durations);
    const headers = { 'user-agent': 'drproxy-health', ...cfg.headers, ...(cfg.host !== undefined && { host: cfg.host }) };
    this.dispatchOptions = {
      origin,
      path: cfg.path,
      method: cfg.method,
      headers,
      // TLS name: the backend's own, as for traffic, even when `host` sets the probe's Host.
      servername: servername ?? originServername(origin),
      // The probe's own timer (cfg.timeout) bounds it. undici's header and body timers would
      // only be set and cleared for nothing, and each left an object behind (its fast timers
      // are swept every 500 ms, so each outlived two young-generation GCs).
      headersTimeout: 0,
      bodyTimeout: 0,
    };
  }

  get state(): HealthState {
    return this.hysteresis.state;
  }

  /**
   * Start probing. The first probe comes at a random point of the first interval (at most 1 s):
   * thousands of backends starting together must not all be probed in the same millisecond.
   * Backends are `unknown` (and take traffic) until then.
   */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(Math.random() * Math.min(this.cfg.interval, 1000));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Run a probe now (used after a config change and by tests); no-op if one is running. */
  async probe(): Promise<CheckResult | undefined> {
    if (this.running) return undefined;
    this.running = true;
    let result: CheckResult;
    try {
      result = await this.send();
    } finally {
      this.running = false;
    }
    if (!this.stopped) this.take(result);
    return result;
  }

  /**
   * A probe sent now, out of the loop's cadence and whatever else is in flight, to confirm a
   * suspicion from real traffic (passive_health.slow_confirm). A probe of the loop already in
   * flight may have been sent before the trouble began, so it is not reused. The result feeds
   * the hysteresis like any other probe's: it is a real answer (or its absence).
   */
  async confirm(): Promise<CheckResult> {
    const result = await this.send();
    if (!this.stopped) this.take(result);
    return result;
  }

  /** One probe through the process-wide gate. */
  private async send(): Promise<CheckResult> {
    if (this.stuck !== 0) {
      // An earlier probe timed out and is still waiting for its connection (SYNs unanswered: a
      // partition, a host gone) or for its answer (a hung process). Another probe would only
      // open another connection to wait on: this one waits, as long as a probe may, for that
      // one instead. Its answer, if it comes, is this probe's answer; if it ends without one
      // (refused, reset), a probe goes out after all.
      const waited = await this.waitForStuck();
      if (waited !== undefined) return waited;
    }
    const wait = this.gate?.enter();
    if (wait) await wait;
    try {
      return await this.check();
    } finally {
      this.gate?.leave();
    }
  }

  /**
   * Wait up to the timeout for the timed-out probe still in flight: its late answer judged as
   * any answer, a failure when the time is up, undefined when it ended without an answer.
   */
  private waitForStuck(): Promise<CheckResult | undefined> {
    const started = performance.now();
    const timeout = this.cfg.timeout;
    return new Promise((resolve) => {
      const waiter = (answer: Verdict | undefined): void => {
        clearTimeout(timer);
        resolve(answer && { ok: answer.ok, ...answer.extra, durationMs: performance.now() - started, at: this.now() });
      };
      const timer = setTimeout(() => {
        // Decided after the next poll phase, as a late probe timer is (Probe.decideLate): an
        // answer waiting unread in the socket is read first, and calls the waiter.
        setImmediate(() => {
          if (!this.stuckWaiters.delete(waiter)) return;
          resolve({ ok: false, error: `timeout after ${timeout}ms (${STILL_WAITING})`, durationMs: performance.now() - started, at: this.now() });
        });
      }, timeout);
      timer.unref();
      this.stuckWaiters.add(waiter);
    });
  }

  /** A probe timed out and keeps its connection (Probe.timedOut). */
  stuckBegan(): void {
    this.stuck++;
  }

  /** A timed-out probe's connect or request ended: with its late answer's verdict, or without one. */
  stuckEnded(answer: Verdict | undefined): void {
    this.stuck--;
    if (this.stuckWaiters.size === 0) return;
    const waiters = [...this.stuckWaiters];
    this.stuckWaiters.clear();
    for (const w of waiters) w(answer);
  }

  private take(result: CheckResult): void {
    this.tally.add(result);
    if (result.inconclusive) {
      this.lastResult = result;
      this.listener.onResult(result, this.hysteresis.state, false);
      return;
    }
    const changed = this.hysteresis.record(result.ok);
    if (!result.ok) {
      if (this.firstFailureAt === 0) this.firstFailureAt = result.at - result.durationMs;
    } else if (this.hysteresis.state === 'up') {
      this.firstFailureAt = 0;
    }
    this.lastResult = result;
    this.listener.onResult(result, this.hysteresis.state, changed);
  }

  /**
   * Probes start on a fixed cadence (the next one `interval` after the previous one was due,
   * not after it ended), so that a dead backend is declared down within
   * interval × fall + timeout, as the config promises.
   */
  private schedule(delay: number): void {
    if (this.stopped) return;
    this.due = performance.now() + delay;
    // Whole milliseconds (up to 1 ms early, never late): Node keeps one list of timers per
    // distinct duration, and a fractional one made a list, and a priority-queue entry, per probe.
    this.timer = setTimeout(this.fire, Math.floor(delay));
    this.timer.unref();
  }

  /**
   * The timer's callback, made once per check: a timer lives for a whole interval, long enough
   * to be promoted to V8's old generation, and a closure per probe went with it.
   */
  private readonly fire = (): void => {
    this.timer = undefined;
    // The loop's usual case (no probe running, none stuck, room at the gate) without a
    // promise: probe() and send() are three awaits and their promises per probe, a visible
    // share of a probe's instructions at thousands a second.
    if (this.running || this.stuck !== 0 || (this.gate !== undefined && !this.gate.tryEnter())) {
      void this.probe().finally(this.next);
      return;
    }
    this.running = true;
    this.dispatchProbe(this.loopDone);
  };

  /** A probe sent by fire()'s fast path is done: what probe() and send() do after it. */
  private readonly loopDone = (result: CheckResult): void => {
    this.gate?.leave();
    this.running = false;
    try {
      if (!this.stopped) this.take(result);
    } finally {
      this.next();
    }
  };

  /**
   * The next probe is due an interval after this one was due, not after its timer fired: on a
   * busy event loop every timer fires late, and counting from the late start pushed each probe
   * back by the lateness of all the ones before it (a hung region's last tenants tripped up to
   * ~0.2 s past the bound, on three probes' worth of lag). More than an interval behind (a long
   * stall), the cadence starts again from now: one probe at once, never a burst.
   */
  private readonly next = (): void => {
    const now = performance.now();
    this.schedule(Math.max(0, this.due + this.nextDelay() - now));
  };

  /**
   * Jitter only ever brings a probe forward (up to jitter × interval early, never late): it
   * spreads probes apart as well as a ± jitter does, and keeps the promise that a dead backend is
   * down within interval × fall + timeout (a ± 10 % jitter broke it by up to 10 %: the hang
   * benchmark once tripped at 723 ms against a 700 ms bound).
   */
  private nextDelay(): number {
    const base = this.hysteresis.transitioning ? this.cfg.fast_interval : this.cfg.interval;
    return Math.max(1, base - Math.random() * base * this.cfg.jitter);
  }

  /**
   * One probe, through the probes' client (probe-client.ts; tests may pass an undici
   * dispatcher) with a small handler of its own (no request object,
   * no stream, no AbortSignal per probe: at thousands of probes a second this matters). The
   * timeout starts when the probe is handed to the dispatcher, whose per-origin connection
   * limit is high enough that probes do not queue behind each other.
   */
  private check(): Promise<CheckResult> {
    return new Promise((resolve) => this.dispatchProbe(resolve));
  }

  /** One probe handed to the dispatcher; `done` gets its result (exactly once). */
  private dispatchProbe(done: (r: CheckResult) => void): void {
    const probe = new Probe(this.cfg, done, this);
    try {
      this.dispatcher.dispatch(this.dispatchOptions, probe);
    } catch (err) {
      probe.onError(err as Error);
    }
  }
}

/** Why a probe that waited on an earlier, timed-out one failed (ActiveCheck.send). */
const STILL_WAITING = 'an earlier probe is still waiting for its connection or its answer';
