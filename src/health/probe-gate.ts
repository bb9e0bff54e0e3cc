/**
 * A cap on probes in flight across the whole process. Healthy probes take a millisecond, so the
 * cap only matters in bursts (thousands of backends starting together, a slow network): then
 * probes queue here instead of opening thousands of connections at once, and a probe's
 * timeout starts only when it is actually sent.
 */
export class ProbeGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  /** Undefined when a slot is free now; else a promise that resolves when one is. */
  enter(): Promise<void> | undefined {
    if (this.active < this.max) {
      this.active++;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
