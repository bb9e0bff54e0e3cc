/**
 * Refused connections are logged at most once per window per reason, never once per
 * connection: a flood of refusals must not become a flood of log lines (and a full disk). The
 * first refusal after a quiet window is logged at once; later ones are added up and logged
 * when the window ends, with how many there were and the key (client address) that had most.
 */
import type { Logger } from '../log.js';

/** Distinct keys counted per window; past it refusals are still counted, not attributed. */
const MAX_KEYS = 1024;

interface Window {
  count: number;
  /** When the first refusal not yet logged came (performance.now()). */
  firstAt: number;
  byKey: Map<string, number>;
  /** When the last line for this reason was written. */
  loggedAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class RefusalLog<R extends string> {
  private readonly windows = new Map<R, Window>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs: number,
    private readonly what: string,
  ) {}

  note(reason: R, key: string): void {
    let w = this.windows.get(reason);
    if (!w) this.windows.set(reason, (w = { count: 0, firstAt: 0, byKey: new Map(), loggedAt: -Infinity, timer: undefined }));
    const now = performance.now();
    if (w.count++ === 0) w.firstAt = now;
    const n = w.byKey.get(key);
    if (n !== undefined) w.byKey.set(key, n + 1);
    else if (w.byKey.size < MAX_KEYS) w.byKey.set(key, 1);
    if (w.timer !== undefined) return;
    const wait = w.loggedAt + this.windowMs - now;
    if (wait <= 0) {
      this.flush(reason, w);
      return;
    }
    const window = w;
    w.timer = setTimeout(() => {
      window.timer = undefined;
      this.flush(reason, window);
    }, wait);
    w.timer.unref();
  }

  /** Log what is pending now (the listener closed). */
  close(): void {
    for (const [reason, w] of this.windows) {
      clearTimeout(w.timer);
      w.timer = undefined;
      this.flush(reason, w);
    }
  }

  private flush(reason: R, w: Window): void {
    if (w.count === 0) return;
    let top = '';
    let topCount = 0;
    for (const [k, n] of w.byKey) {
      if (n > topCount) {
        top = k;
        topCount = n;
      }
    }
    const now = performance.now();
    const seconds = Math.round((now - w.firstAt) / 100) / 10;
    this.log.warn(
      { event: 'connections_refused', listener: this.what, reason, refused: w.count, seconds, top, top_refused: topCount },
      `${this.what}: ${w.count} connection${w.count === 1 ? '' : 's'} refused (${reason}) in the last ${seconds} s; most from ${top} (${topCount})`,
    );
    w.count = 0;
    w.byKey.clear();
    w.loggedAt = now;
  }
}
