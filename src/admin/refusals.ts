/**
 * Refused admin calls (401, 403, 404, 405, 421, 429, …) summed per client address (and token,
 * for a valid token refused for its role), so that
 * an unauthenticated flood costs one log and audit line per address per window, not one per
 * call. The first refusal of a quiet address is recorded in full (what was tried); after it,
 * the address is in a window, and at the end of each window a summary line says
 * `N refused calls from ADDR in the last 10 s`; a window with none closes the address's entry.
 * The table holds at most `maxAddresses` entries; past it, refusals from new addresses are
 * summed in one entry for "other addresses".
 */

export interface RefusalSummary {
  remote: string;
  /** The token name when the calls carried a valid one (refused for its role), else anonymous. */
  actor: string;
  count: number;
  /** Refused calls by HTTP status. */
  statuses: Record<string, number>;
  windowMs: number;
}

interface Tally {
  remote: string;
  actor: string;
  count: number;
  statuses: Record<string, number>;
}

export const OTHER_ADDRESSES = 'other addresses';

export class RefusalTally {
  private readonly tallies = new Map<string, Tally>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly maxAddresses: number,
    private readonly emit: (s: RefusalSummary) => void,
  ) {}

  /**
   * Counts one refused call. True when it is to be recorded in full (the address had no
   * window open); false when it was summed into the address's window.
   */
  admit(remote: string, status: number, actor = 'anonymous'): boolean {
    const key = actor === 'anonymous' ? remote : `${actor}@${remote}`;
    let t = this.tallies.get(key);
    if (t === undefined && this.tallies.size < this.maxAddresses) {
      this.tallies.set(key, { remote, actor, count: 0, statuses: {} });
      this.start();
      return true;
    }
    if (t === undefined) {
      t = this.tallies.get(OTHER_ADDRESSES);
      if (t === undefined) this.tallies.set(OTHER_ADDRESSES, (t = { remote: OTHER_ADDRESSES, actor: 'anonymous', count: 0, statuses: {} }));
    }
    t.count++;
    t.statuses[status] = (t.statuses[status] ?? 0) + 1;
    return false;
  }

  /** Ends the current window: one summary per address with refusals in it. */
  flush(): void {
    for (const [key, t] of this.tallies) {
      if (t.count === 0) {
        this.tallies.delete(key);
        continue;
      }
      const summary = { remote: t.remote, actor: t.actor, count: t.count, statuses: t.statuses, windowMs: this.windowMs };
      t.count = 0;
      t.statuses = {};
      if (key === OTHER_ADDRESSES) this.tallies.delete(key);
      try {
        this.emit(summary);
      } catch {
        // The writer counts its own failures; a timer must never throw.
      }
    }
    if (this.tallies.size === 0) this.stop();
  }

  /** Stops the window timer, writing what is pending. */
  close(): void {
    this.flush();
    this.stop();
  }

  get size(): number {
    return this.tallies.size;
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
