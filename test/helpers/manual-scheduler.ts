/** Timers that fire only when a test says so (the control plane's injected Scheduler). */
import type { Scheduler } from '../../src/failover/scheduler.js';

export class ManualScheduler implements Scheduler {
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
  /** Run every pending timer now; returns how many ran. */
  fireAll(): number {
    const all = [...this.pending];
    this.pending.clear();
    for (const [, t] of all) t.fn();
    return all.length;
  }
}
