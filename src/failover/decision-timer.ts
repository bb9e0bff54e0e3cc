/** When a tenant decides again on its own: the earliest wait a decision asked for (trip_after, min_interval, a failback's hold-down). */
import type { Scheduler } from './scheduler.js';

export class DecisionTimer {
  private handle: unknown;
  private at = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
    private readonly fire: () => void,
  ) {}

  /** Decide again in `ms`, unless an earlier time is already set. */
  later(ms: number): void {
    const at = this.now() + ms;
    if (this.handle !== undefined && this.at <= at) return;
    this.stop();
    this.at = at;
    this.handle = this.scheduler.setTimeout(() => {
      this.handle = undefined;
      this.fire();
    }, ms + 5);
  }

  stop(): void {
    if (this.handle !== undefined) this.scheduler.clearTimeout(this.handle);
    this.handle = undefined;
  }
}
