/**
 * One health-check probe: the dispatch handler of a check's request (undici's handler calls,
 * which the probes' own client, probe-client.ts, makes too), its timer, and what
 * a late timer (this process busy) or a timeout (the backend hung) makes of it. ActiveCheck
 * (active-check.ts) sends probes and keeps their results.
 */
import type { HealthCheckConfig } from '../config/types.js';
import { statusInRanges } from '../config/status-ranges.js';
import { readDataAge } from './data-age.js';
import type { ActiveCheck, CheckResult } from './active-check.js';
import { probeDeadlines, type DueList, type Expiring } from './probe-deadlines.js';

/** Bodies are read only when they must be judged (expect_body, data_age); never more than this. */
const MAX_BODY_BYTES = 64 * 1024;
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
export class Probe implements Expiring {
  private readonly started = performance.now();
  /** Its timeout, on the one shared timer (probe-deadlines.ts): no timer per probe. */
  deadline = 0;
  prevDue: Expiring | undefined = undefined;
  nextDue: Expiring | undefined = undefined;
  dueList: DueList | undefined = undefined;
  private abort: ((err?: Error) => void) | undefined;
  private status = 0;
  /** The body's bytes so far, when it must be judged (made on the first). */
  private chunks: Buffer[] | undefined = undefined;
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
  /** Whether the client should pass on body bytes at all (probe-client.ts: not sliced for nothing). */
  readonly wantsBody: boolean;
  /** When the request, body included, was written (performance.now()); 0 before. */
  private sentAt = 0;
  /** How late the timer fired, when it fired late (see decideLate); 0 otherwise. */
  private lateBy = 0;

  /** Timed out and still holds its connection; counted in the owner's `stuck` until it ends. */
  private stuck = false;

  constructor(
    private readonly cfg: HealthCheckConfig,
    private readonly resolve: (r: CheckResult) => void,
    private readonly owner: Pick<ActiveCheck, 'stuckBegan' | 'stuckEnded' | 'now'>,
  ) {
    this.needBody = (cfg.expect_body !== undefined || cfg.data_age !== undefined) && cfg.method !== 'HEAD';
    this.wantsBody = this.needBody;
    probeDeadlines.add(this, cfg.timeout, this.started);
  }

  /** The timeout is due, and was swept `late` ms after it (probe-deadlines.ts). */
  expire(late: number): void {
    if (late > Math.max(LATE_MS, this.cfg.timeout / 2)) {
      // Swept long after it was due: this process was busy, and an answer may be waiting
      // unread in the socket. Decide once the event loop's next poll phase has read every
      // ready socket (setImmediate runs right after it).
      this.lateBy = late;
      setImmediate(decideLate, this);
      return;
    }
    this.timedOut();
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
    // Counted stuck before the result goes out: its check may be called back at once
    // (ActiveCheck's loop without a promise) and must see it.
    this.stuck = true;
    this.owner.stuckBegan();
    this.settle(false, { error: `timeout after ${this.cfg.timeout}ms` });
    // Connected: the request goes on. Still connecting: onConnect aborts it when it opens.
    this.holdConnection(this.abort !== undefined, STUCK_WAIT_MS);
  }

  /** The hold of holdConnection is over: abort the request (or, once connected, its connection). */
  giveUp(): void {
    this.keepConnection = false;
    if (this.abort !== undefined) this.abort(PROBE_ABANDONED);
    // Still connecting: onConnect aborts it when it opens; the connect timeout (10 s) ends it.
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
      (this.chunks ??= []).push(chunk);
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
    // The usual answer: a status in range and no body to judge (no verdict object, no spread).
    if (!this.needBody && statusInRanges(this.status, this.cfg.expect_status)) {
      this.settleAnswered(this.status);
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
    const body = this.needBody ? Buffer.concat(this.chunks ?? []).toString('utf8', 0, Math.min(this.size, MAX_BODY_BYTES)) : '';
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
    probeDeadlines.remove(this);
    this.resolve({ ok, durationMs: performance.now() - this.started, at: this.owner.now(), ...extra });
  }

  /** settle(true, { status }) for the usual answer, without the spread. */
  private settleAnswered(status: number): void {
    if (this.settled) return;
    this.settled = true;
    probeDeadlines.remove(this);
    this.resolve({ ok: true, durationMs: performance.now() - this.started, at: this.owner.now(), status });
  }
}

/** An answer judged (Probe.verdict). */
export interface Verdict {
  ok: boolean;
  extra: Partial<CheckResult>;
}

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

/** A probe's or hook's failure as a short reason: a timeout, an error code, or the message. */
export function describeError(err: unknown, timeout: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timeout after ${timeout}ms`;
  }
  // A malformed answer (probe-response.ts): the message says what was wrong with it.
  if (e.code === 'DRP_PROBE_RESPONSE') return e.message ?? e.code;
  const code = e.code ?? e.cause?.code;
  return code ? `${code}` : (e.message ?? String(err));
}
