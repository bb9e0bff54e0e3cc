/**
 * One active health check loop: probes a backend on its interval (with jitter, and a faster
 * interval while the backend is changing state), judges the answer against the expected status
 * ranges and body, and feeds the hysteresis. Checks use their own keep-alive dispatcher so that
 * a busy data-plane pool never delays a probe.
 */
import type { Dispatcher } from 'undici';
import type { HealthCheckConfig } from '../config/types.js';
import { statusInRanges } from '../config/status-ranges.js';
import { Hysteresis, type HealthState } from './hysteresis.js';
import { readDataAge } from './data-age.js';
import type { ProbeGate } from './probe-gate.js';
import { originServername, type NamedDispatch } from '../tls-name.js';
import type { LatencyCounts } from '../request-latency.js';

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

/** Bodies are read only when they must be judged; never more than this. */
const MAX_BODY = 64 * 1024;

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
    private readonly dispatcher: Dispatcher,
    private readonly listener: CheckListener,
    private readonly gate?: ProbeGate,
    durations?: LatencyCounts,
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
      servername: originServername(origin),
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
        resolve(answer && { ok: answer.ok, ...answer.extra, durationMs: performance.now() - started, at: Date.now() });
      };
      const timer = setTimeout(() => {
        // Decided after the next poll phase, as a late probe timer is (Probe.decideLate): an
        // answer waiting unread in the socket is read first, and calls the waiter.
        setImmediate(() => {
          if (!this.stuckWaiters.delete(waiter)) return;
          resolve({ ok: false, error: `timeout after ${timeout}ms (${STILL_WAITING})`, durationMs: performance.now() - started, at: Date.now() });
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
    void this.probe().finally(this.next);
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
   * One probe, through undici's dispatcher with a small handler of its own (no request object,
   * no stream, no AbortSignal per probe: at thousands of probes a second this matters). The
   * timeout starts when the probe is handed to the dispatcher, whose per-origin connection
   * limit is high enough that probes do not queue behind each other.
   */
  private check(): Promise<CheckResult> {
    const cfg = this.cfg;
    return new Promise((resolve) => {
      const probe = new Probe(cfg, resolve, this);
      try {
        this.dispatcher.dispatch(this.dispatchOptions, probe);
      } catch (err) {
        probe.onError(err as Error);
      }
    });
  }
}

const MAX_BODY_BYTES = MAX_BODY;
/**
 * A probe timer this late (or half its timeout, if more) was held up by this process: the probe
 * is inconclusive, unless its request had been on the wire a whole timeout with nothing read
 * back even after the late timer (Probe.decideLate).
 */
const LATE_MS = 50;

/**
 * How long an inconclusive probe's request may still take to be answered, from the late timer,
 * before it is aborted after all: four more timeouts, at least 2 s. An overloaded process may
 * send the request itself late, after the timer; a generous bound keeps the connection of a
 * backend that answers, and only a hung one loses it.
 */
export function inconclusiveWait(timeout: number): number {
  return Math.max(4 * timeout, 2000);
}

/**
 * The errors a probe's request is aborted with, one for all: when a region hangs, thousands of
 * probes time out a second, and an Error each (its stack captured, then formatted when undici
 * destroys the socket with it) was a visible share of that storm's CPU.
 */
const PROBE_TIMEOUT = new Error('health check timeout');
const PROBE_ABANDONED = new Error('health check abandoned');

/** The dispatch handler of one probe. Settles exactly once: answer, error or timeout. */
class Probe {
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private abort: ((err?: Error) => void) | undefined;
  private status = 0;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  /** Settled as inconclusive: the request goes on to its end so that its connection is kept. */
  private keepConnection = false;
  /**
   * When inconclusive: the bound on that wait (undici's own timeouts are off for probes, so a
   * hung backend would otherwise hold the connection for good). See inconclusiveWait.
   */
  private abandon: NodeJS.Timeout | undefined;
  private readonly needBody: boolean;
  /** When the request, body included, was written (performance.now()); 0 before. */
  private sentAt = 0;
  /** How late the timer fired, when it fired late (see decideLate); 0 otherwise. */
  private lateBy = 0;

  /** Timed out and still holds its connection; counted in the owner's `stuck` until it ends. */
  private stuck = false;

  constructor(
    private readonly cfg: HealthCheckConfig,
    private readonly resolve: (r: CheckResult) => void,
    private readonly owner: Pick<ActiveCheck, 'stuckBegan' | 'stuckEnded'>,
  ) {
    this.needBody = (cfg.expect_body !== undefined || cfg.data_age !== undefined) && cfg.method !== 'HEAD';
    this.timer = setTimeout(() => {
      const late = performance.now() - this.started - cfg.timeout;
      if (late > Math.max(LATE_MS, cfg.timeout / 2)) {
        // Fired long after it was due: this process was busy, and an answer may be waiting
        // unread in the socket. Decide once the event loop's next poll phase has read every
        // ready socket (setImmediate runs right after it).
        this.lateBy = late;
        setImmediate(decideLate, this);
        return;
      }
      this.timedOut();
    }, cfg.timeout);
    this.timer.unref();
  }

  /**
   * The timer fired late, and every ready socket has been read since. No answer, and the
   * request was written a whole timeout ago: a timeout, however late we noticed (when a region
   * hangs, thousands of probes time out and this process is busy, and calling those
   * inconclusive held the failovers back by whole intervals). Otherwise the probe says nothing
   * either way: inconclusive.
   */
  decideLate(): void {
    if (this.settled) return;
    if (this.status === 0 && this.sentAt !== 0 && performance.now() - this.sentAt >= this.cfg.timeout) {
      this.timedOut();
      return;
    }
    // Our lateness: let the answer arrive and keep the keep-alive connection (aborting
    // destroys it, and reconnecting is what an overloaded process can least afford).
    this.settle(false, { inconclusive: true, error: this.lateError() });
    this.holdConnection(true, inconclusiveWait(this.cfg.timeout));
  }

  /**
   * Let a settled probe's request go on (keep: its connection is not aborted when it opens),
   * for at most `ms`, then give it up (giveUp).
   */
  private holdConnection(keep: boolean, ms: number): void {
    this.keepConnection = keep;
    this.abandon = setTimeout(giveUp, ms, this);
    this.abandon.unref();
  }

  /**
   * A real timeout: the probe fails. Its connection is kept for up to STUCK_WAIT_MS, and the
   * check sends no other probe meanwhile (ActiveCheck.send): a hung or cut-off backend costs
   * one connection per check, not a new one per probe. Still connecting, the connect goes on
   * (undici cannot cancel it from here) until it opens (onConnect: aborted then) or fails;
   * connected, the request waits for its answer, which ends it, as the bound does.
   */
  private timedOut(): void {
    this.settle(false, { error: `timeout after ${this.cfg.timeout}ms` });
    this.stuck = true;
    this.owner.stuckBegan();
    // Connected: the request goes on. Still connecting: onConnect aborts it when it opens.
    this.holdConnection(this.abort !== undefined, STUCK_WAIT_MS);
  }

  /** The hold of holdConnection is over: abort the request (or, once connected, its connection). */
  giveUp(): void {
    this.keepConnection = false;
    if (this.abort !== undefined) this.abort(PROBE_ABANDONED);
    // Still connecting: onConnect aborts it when it opens; undici's connect timeout ends it.
  }

  /** A timed-out probe's connect or request has ended: with an answer's verdict, or without. */
  private unstuck(answer?: Verdict): void {
    if (!this.stuck) return;
    this.stuck = false;
    if (this.abandon) clearTimeout(this.abandon);
    this.owner.stuckEnded(answer);
  }

  private lateError(): string {
    return `probe timer ${Math.round(this.lateBy)}ms late: drproxy overloaded, result ignored`;
  }

  /** The request, body included, is on the wire. */
  onRequestSent(): void {
    this.sentAt = performance.now();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.settled && !this.keepConnection) {
      // Timed out while connecting: the connection opened too late to be of use.
      this.unstuck();
      abort(PROBE_TIMEOUT);
    }
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.needBody && this.size < MAX_BODY_BYTES) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    return true;
  }

  onComplete(): void {
    if (this.abandon) clearTimeout(this.abandon);
    if (this.stuck) {
      // A late answer to a probe that timed out: the answer of the probe waiting on it.
      this.unstuck(this.verdict());
      return;
    }
    if (this.lateBy !== 0) {
      // Read while the late timer's decision was pending: it may have come in time or not.
      this.settle(false, { inconclusive: true, status: this.status, error: this.lateError() });
      return;
    }
    const v = this.verdict();
    this.settle(v.ok, v.extra);
  }

  /** The answer judged: status ranges, expected body, data age. */
  private verdict(): Verdict {
    const cfg = this.cfg;
    const status = this.status;
    if (!statusInRanges(status, cfg.expect_status)) return { ok: false, extra: { status, error: `status ${status} not in ${cfg.expect_status_text}` } };
    const body = this.needBody ? Buffer.concat(this.chunks).toString('utf8', 0, Math.min(this.size, MAX_BODY_BYTES)) : '';
    if (cfg.expect_body !== undefined && !body.includes(cfg.expect_body)) return { ok: false, extra: { status, error: 'body does not contain the expected text' } };
    const extra: Partial<CheckResult> = { status };
    if (cfg.data_age) {
      const age = readDataAge(body, cfg.data_age);
      if (age !== undefined) extra.dataAgeSeconds = age;
    }
    return { ok: true, extra };
  }

  onError(err: Error): void {
    if (this.abandon) clearTimeout(this.abandon);
    this.unstuck();
    this.settle(false, { error: describeError(err, this.cfg.timeout) });
  }

  private settle(ok: boolean, extra: Partial<CheckResult>): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve({ ok, durationMs: performance.now() - this.started, at: Date.now(), ...extra });
  }
}

/** An answer judged (Probe.verdict). */
interface Verdict {
  ok: boolean;
  extra: Partial<CheckResult>;
}

/** Why a probe that waited on an earlier, timed-out one failed (ActiveCheck.send). */
const STILL_WAITING = 'an earlier probe is still waiting for its connection or its answer';

/**
 * How long a timed-out probe keeps its connection, waiting for it to open or for its answer,
 * while its check sends no other probe.
 */
const STUCK_WAIT_MS = 10_000;

/** Probe.giveUp as a timer callback. */
function giveUp(probe: Probe): void {
  probe.giveUp();
}

/** Probe.decideLate as setImmediate's callback (no closure per probe). */
function decideLate(probe: Probe): void {
  probe.decideLate();
}

export function describeError(err: unknown, timeout: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timeout after ${timeout}ms`;
  }
  const code = e.code ?? e.cause?.code;
  return code ? `${code}` : (e.message ?? String(err));
}
