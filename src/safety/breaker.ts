/**
 * The fleet-wide breaker of automatic flips (issue 20, item 6; docs/safety.md): when more
 * automatic flips start across tenants within `window` than the rule allows, either
 * `proceed` (a real region failure: they all go, loudly) or `confirm` (further automatic flips
 * are held until an operator confirms). It guards against drproxy's own broken network link
 * looking like a region failure. Counting is by start: a flip admitted here is one started.
 */
export interface BreakerRule {
  /** At most this many automatic flips in the window… */
  count?: number;
  /** …or this percentage of the fleet's tenants (rounded up, at least 1). */
  percent?: number;
  /** ms */
  window: number;
  action: 'proceed' | 'confirm';
}

export interface BreakerTrip {
  at: number;
  /** Automatic flips started in the window when it tripped. */
  started: number;
  threshold: number;
  action: BreakerRule['action'];
}

export class FleetBreaker {
  /** Start times of the automatic flips within the window, oldest first. */
  private started: number[] = [];
  /** Set while over the threshold (proceed) or until an operator confirms (confirm). */
  tripped: BreakerTrip | undefined;
  /** Tenants released by an operator's confirmation, until when: their next automatic flip within the window goes, uncounted. */
  private readonly passes = new Map<string, number>();

  constructor(
    readonly rule: BreakerRule,
    private readonly fleetSize: () => number,
    private readonly now: () => number,
    private readonly onTrip: (trip: BreakerTrip) => void,
  ) {}

  threshold(): number {
    if (this.rule.count !== undefined) return this.rule.count;
    return Math.max(1, Math.ceil(((this.rule.percent ?? 100) / 100) * this.fleetSize()));
  }

  /** Automatic flips started within the window now. */
  inWindow(now = this.now()): number {
    const from = now - this.rule.window;
    while (this.started.length > 0 && this.started[0]! <= from) this.started.shift();
    // proceed: the trip ends once the window is back under the threshold.
    if (this.tripped?.action === 'proceed' && this.started.length <= this.threshold()) this.tripped = undefined;
    return this.started.length;
  }

  /** An automatic flip of `tenant` wants to start: true lets it (and counts it), false holds it. */
  admit(tenant: string): boolean {
    const now = this.now();
    const pass = this.passes.get(tenant);
    if (pass !== undefined && this.passes.delete(tenant) && pass > now) return true;
    const n = this.inWindow(now);
    if (this.tripped?.action === 'confirm') return false;
    if (n >= this.threshold() && this.tripped === undefined) {
      this.tripped = { at: now, started: n, threshold: this.threshold(), action: this.rule.action };
      this.onTrip(this.tripped);
    }
    if (this.tripped?.action === 'confirm') return false;
    this.started.push(now);
    return true;
  }

  /** An operator confirmed: `held` tenants may flip once each; the window starts afresh. */
  confirm(held: Iterable<string>): void {
    const until = this.now() + this.rule.window;
    for (const t of held) this.passes.set(t, until);
    this.tripped = undefined;
    this.started = [];
  }
}
