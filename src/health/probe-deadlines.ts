/**
 * Probes' timeouts on one shared timer instead of a timer per probe (probe.ts). A Node timer per
 * probe meant, at thousands of probes a second: a Timeout object, its async id, calls into C++
 * to ref and unref it, and a timer list (and a priority-queue entry) made and dropped for nearly
 * every probe, since a probe is answered long before its timeout and leaves its list empty.
 *
 * Here a probe joins an intrusive list of its timeout's value (deadlines in order, as each is
 * now + the same timeout) and leaves it when settled: no allocation. One timer is armed for the
 * earliest deadline of any list; when it fires it expires what is due and is armed again for the
 * next earliest, if a probe is still in flight. A probe is answered in milliseconds and its
 * timeout is hundreds of them, so that timer fires about once a timeout, whatever the probe
 * rate (a fixed 10 ms sweep cost ~2,000 instructions a probe at 240 probes a second: each wake-up
 * of the event loop enters JavaScript). It fires late only when the event loop is: the lateness
 * a probe is told is how late its own deadline was swept, as its own timer's was.
 */

/** A probe, as the timer sees it (fields kept on the probe itself: nothing allocated per probe). */
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
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for (performance.now()). */
  private armedFor = Infinity;
  private inFlight = 0;
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
    // Armed for an earlier deadline already: the usual case, nothing to do.
    if (e.deadline < this.armedFor) this.arm(e.deadline, now);
  }

  /** `e` settled: no timeout for it (a no-op if it is not waiting). The timer stays as it is. */
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

  /** Whether the timer is armed (tests: it is not once no probe is in flight and it has fired). */
  get ticking(): boolean {
    return this.timer !== undefined;
  }

  private arm(deadline: number, now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = deadline;
    // Whole milliseconds, rounded up: a timer that fires a little early would only re-arm.
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(deadline - now)));
    this.timer.unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const l of this.lists.values()) {
      for (let e = l.head; e !== undefined && e.deadline <= now; e = l.head) {
        this.remove(e);
        e.expire(now - e.deadline);
      }
      if (l.head !== undefined && l.head.deadline < next) next = l.head.deadline;
    }
    // An expiry may have sent a probe (and armed the timer): arm only for an earlier deadline.
    if (next < this.armedFor) this.arm(next, now);
  };
}

/** The process's (each thread's) one timer of probe deadlines. */
export const probeDeadlines = new ProbeDeadlines();
