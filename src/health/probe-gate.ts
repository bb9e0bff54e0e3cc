/**
 * A cap on probes in flight across the whole process, applied only while this process is busy.
 *
 * Why a cap: a probe's timeout starts when it passes the gate. When drproxy's event loop is
 * saturated (thousands of distinct backends on one core, or heavy traffic), probes admitted
 * without limit would queue inside the process, their answers processed late, and healthy
 * backends could time out. Capped, probes wait here instead (their timers not yet running), and
 * the probe rate settles at what the process can serve.
 *
 * Why only while busy: a probe to a hung or black-holed backend holds its place for its whole
 * timeout while costing nothing. When a region hangs, thousands of probes wait on it at once. A
 * fixed cap of 256 then let only 256 / timeout of them run a second (512 at 500 ms), and 1,000
 * tenants whose primary region hung took 8.2–12.7 s to move instead of interval × fall +
 * timeout = 3.5 s (bench/region-hang.js). While the event loop has time to spare
 * (`setBusy(false)`, from its measured utilization), probes beyond the cap go too, a few per
 * turn of the event loop, whatever is in flight.
 */
export class ProbeGate {
  private active = 0;
  /** Waiting probes, oldest first from `head` (a queue without Array.shift's O(n) copies). */
  private waiting: Array<() => void> = [];
  private head = 0;
  private busy = false;
  private admitQueued = false;

  constructor(private readonly max: number) {}

  /**
   * Undefined when the probe may go now (under the cap); else a promise that resolves when it
   * may: at once-ish while the process is not busy (ADMIT_PER_TURN per turn of the event loop),
   * when a probe in flight ends while it is.
   */
  enter(): Promise<void> | undefined {
    if (this.active < this.max) {
      this.active++;
      return undefined;
    }
    const wait = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (!this.busy) this.admitLater();
    return wait;
  }

  /** Enter at once if there is room (true), without a promise; false: call enter() instead. */
  tryEnter(): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }

  leave(): void {
    this.active--;
    this.admit();
  }

  /** The process is busy (apply the cap) or not (let the waiting probes go). */
  setBusy(busy: boolean): void {
    this.busy = busy;
    if (!busy) this.admit();
  }

  /** Probes in flight and waiting (status, tests). */
  get stats(): { active: number; waiting: number; busy: boolean } {
    return { active: this.active, waiting: this.waiting.length - this.head, busy: this.busy };
  }

  /**
   * Let waiting probes go: within the cap, all of them; beyond it (while the process is not
   * busy), ADMIT_PER_TURN per turn of the event loop. Hundreds of probes let go in one turn
   * would block the loop for their connects (profiled: 130–160 ms), time out together, and
   * come back together an interval later, their burst making other probes' timers late
   * enough to be inconclusive.
   */
  private admit(): void {
    let beyond = 0;
    while (this.head < this.waiting.length && (this.active < this.max || !this.busy)) {
      if (this.active >= this.max && ++beyond > ADMIT_PER_TURN) {
        this.admitLater();
        break;
      }
      this.active++;
      this.waiting[this.head++]!();
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }

  private admitLater(): void {
    if (this.admitQueued) return;
    this.admitQueued = true;
    setImmediate(admitNext, this);
  }

  /** admitLater's callback. */
  admitQueuedNow(): void {
    this.admitQueued = false;
    this.admit();
  }
}

/** Probes let past the cap per turn of the event loop. */
const ADMIT_PER_TURN = 32;

function admitNext(gate: ProbeGate): void {
  gate.admitQueuedNow();
}
