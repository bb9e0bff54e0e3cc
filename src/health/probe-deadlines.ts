/**
 * Probes' timeouts on one shared sweep instead of a timer per probe (probe.ts). A Node timer per
 * probe meant, at thousands of probes a second: a Timeout object, its async id, two calls into
 * C++ to ref and unref it, and a timer list (and a priority-queue entry) made and dropped for
 * nearly every probe, since a probe is answered long before its timeout and leaves its list
 * empty. Here a probe joins an intrusive list of its timeout's value (deadlines in order, as
 * each is now + the same timeout) and leaves it when settled; one interval sweeps the lists'
 * heads every TICK_MS while probes are in flight, and stops after a second without any.
 *
 * A timeout is noticed up to TICK_MS after it is due. The lateness a probe is told (how much
 * later than its deadline it was swept) includes that, so it never understates how busy this
 * process was: Probe then decides late timers after the next poll phase, the safe side.
 */

/** How often in-flight probes' deadlines are checked. */
export const TICK_MS = 10;
/** Sweeps without a probe in flight before the interval stops (restarted by the next probe). */
const IDLE_TICKS = 100;

/** A probe, as the sweep sees it (fields kept on the probe itself: nothing allocated per probe). */
export interface Expiring {
  /** When it times out (performance.now()). */
  deadline: number;
  prevDue: Expiring | undefined;
  nextDue: Expiring | undefined;
  dueList: DueList | undefined;
  /** Its deadline has passed, `lateBy` ms ago (as swept). */
  expire(lateBy: number): void;
}

/** The probes of one timeout value, earliest deadline first. */
export class DueList {
  head: Expiring | undefined;
  tail: Expiring | undefined;
}

export class ProbeDeadlines {
  private readonly lists = new Map<number, DueList>();
  private ticker: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private idleTicks = 0;
  private lastTimeout = -1;
  private lastList: DueList | undefined;

  /** `e` times out `timeout` ms from `now`, unless removed before. */
  add(e: Expiring, timeout: number, now: number): void {
    // Most probes share one timeout: the last list used, without a Map lookup.
    let l = timeout === this.lastTimeout ? this.lastList : this.lists.get(timeout);
    if (l === undefined) {
      l = new DueList();
      this.lists.set(timeout, l);
    }
    this.lastTimeout = timeout;
    this.lastList = l;
    e.deadline = now + timeout;
    e.dueList = l;
    e.prevDue = l.tail;
    e.nextDue = undefined;
    if (l.tail !== undefined) l.tail.nextDue = e;
    else l.head = e;
    l.tail = e;
    this.inFlight++;
    if (this.ticker === undefined) {
      this.ticker = setInterval(this.sweep, TICK_MS);
      this.ticker.unref();
    }
  }

  /** `e` settled: no timeout for it (a no-op if it is not waiting). */
  remove(e: Expiring): void {
    const l = e.dueList;
    if (l === undefined) return;
    if (e.prevDue !== undefined) e.prevDue.nextDue = e.nextDue;
    else l.head = e.nextDue;
    if (e.nextDue !== undefined) e.nextDue.prevDue = e.prevDue;
    else l.tail = e.prevDue;
    e.prevDue = e.nextDue = e.dueList = undefined;
    this.inFlight--;
  }

  /** Probes waiting for their deadline (tests). */
  get size(): number {
    return this.inFlight;
  }

  /** Whether the sweep's interval is running (tests: it stops once idle). */
  get ticking(): boolean {
    return this.ticker !== undefined;
  }

  private readonly sweep = (): void => {
    if (this.inFlight === 0) {
      if (++this.idleTicks >= IDLE_TICKS) {
        clearInterval(this.ticker);
        this.ticker = undefined;
        this.idleTicks = 0;
      }
      return;
    }
    this.idleTicks = 0;
    const now = performance.now();
    for (const l of this.lists.values()) {
      for (let e = l.head; e !== undefined && e.deadline <= now; e = l.head) {
        this.remove(e);
        e.expire(now - e.deadline);
      }
    }
  };
}

/** The process's (each thread's) one sweep of probe deadlines. */
export const probeDeadlines = new ProbeDeadlines();
