/**
 * Requests held while their tenant flips, or while the only backend that could take them failed
 * and another site can take over: they wait, bounded in time and count, instead of failing.
 * A new request's body is not read while it waits (its stream stays paused and TCP pushes back
 * on the client). When the slot publishes a route that is not `hold`, every waiter is released
 * with that route, oldest request first (by when it reached drproxy, not when it was held: a
 * flip from a hung site holds the requests it takes off that site after the ones that arrived
 * during the flip, and in no useful order).
 *
 * A request's bound is `hold_requests` from when it was first held (issue 16, item 18): a request
 * held again — after a retry, at a flip's drain, released into a route that holds again, or when
 * a shorter wait (the site's detection time) ends while its tenant still holds — gets only what
 * is left of that bound, never a fresh one. Past it, it is answered at once.
 */
import type { ServerResponse } from 'node:http';
import type { TenantRoute, TenantSlot } from './route.js';
import { sendError } from './responses.js';
import { mark, TRACE } from '../trace-marks.js';

export interface Waiter {
  readonly res: ServerResponse;
  /** When the request reached drproxy (performance.now()): the release order. */
  readonly startedAt: number;
  /** End of its hold bound (performance.now()), set when it is first held; 0 until then. */
  holdDeadline: number;
  /** Time spent held so far, ms (the access log's held_ms). */
  heldMs: number;
  /** The tenant has a route that is not `hold`: go on with it. */
  release(route: TenantRoute): void;
  /** Waited `ms` without a new route: answer (or retry) now. */
  expire(route: TenantRoute): void;
}

interface Entry {
  waiter: Waiter;
  /** When it was held (performance.now()). */
  at: number;
  timer: NodeJS.Timeout;
  onClose: () => void;
}

/** Held requests released per turn of the event loop when the tenant's route comes back. */
const RELEASE_CHUNK = 16;
/**
 * The first turn releases only the oldest request: its connection to the new site opens and
 * its request is written in the next poll, before the other requests' connects take the event
 * loop. The effect is small: three A/Bs (bench/RESULTS.md) each gave a 0.7–1.5 ms lower
 * median to the first answer, and none was significant on its own.
 */
const RELEASE_FIRST = 1;

/** Less than this left of a bound is none: holding for it would only spin a timer. */
const LATE_MS = 5;

/** Whether `w` may still wait: never held yet, or some of its bound left. */
export function canHoldMore(w: Waiter): boolean {
  return w.holdDeadline === 0 || w.holdDeadline - performance.now() > LATE_MS;
}

/** held; full: the queue is at hold_max; late: the request's hold bound is used up. */
export type HoldResult = 'held' | 'full' | 'late';

export class HeldQueue {
  private readonly entries = new Set<Entry>();
  private unsubscribe: (() => void) | undefined;
  /** Requests refused because the queue was full, since the last report. */
  private refusedSince = 0;
  private reportedAt = 0;

  constructor(private readonly slot: TenantSlot) {}

  /**
   * Hold `waiter` for at most `ms` (the route's hold time by default), and never past the end of
   * its bound. Does not answer when it cannot hold it.
   */
  hold(waiter: Waiter, route: TenantRoute, ms = route.holdMs): HoldResult {
    const now = performance.now();
    if (waiter.holdDeadline === 0) waiter.holdDeadline = now + route.holdMs;
    const left = waiter.holdDeadline - now;
    if (left <= LATE_MS) return 'late';
    if (this.entries.size >= route.holdMax) return 'full';
    const entry: Entry = {
      waiter,
      at: now,
      timer: setTimeout(() => {
        this.remove(entry);
        waiter.expire(this.slot.route);
      }, Math.min(ms, left)),
      onClose: () => this.remove(entry),
    };
    waiter.res.once('close', entry.onClose);
    this.entries.add(entry);
    if (this.slot.observer) this.slot.observer.held++;
    this.unsubscribe ??= this.slot.onPublish((r) => this.onRoute(r));
    return 'held';
  }

  private onRoute(route: TenantRoute): void {
    if (route.mode === 'hold') return;
    const all = [...this.entries];
    for (const e of all) this.remove(e);
    // Oldest first: the requests that have waited longest go out first. Holding order is
    // not that: a drain re-sends the calls it takes off the old site newest first, per backend,
    // after whatever arrived during the flip. (Array sort is stable and fast on the runs of
    // already-ordered entries this mostly is.)
    all.sort(byStart);
    // Release outside the publisher's stack (it may be a call's error handler), with the
    // route current at that moment: if the tenant is holding again, hold them again.
    queueMicrotask(() => this.releaseFrom(all, 0));
  }

  /**
   * Release `all[from…]`, RELEASE_CHUNK at a time (RELEASE_FIRST in the first turn), one chunk
   * per turn of the event loop: the first requests' connections open and their answers go out
   * while later ones are still being dispatched, instead of every answer waiting for the whole
   * backlog to be dispatched (a backlog of hundreds takes tens of ms to dispatch, most of it
   * opening new connections).
   */
  private releaseFrom(all: Entry[], from: number): void {
    const current = this.slot.route;
    if (TRACE) mark('held-release', `${from}/${all.length} ${current.mode}`);
    const end = Math.min(all.length, from + (from === 0 ? RELEASE_FIRST : RELEASE_CHUNK));
    for (let i = from; i < end; i++) {
      const e = all[i]!;
      const held = current.mode === 'hold' ? this.hold(e.waiter, current) : undefined;
      if (held === 'held') continue;
      if (held === 'late') e.waiter.expire(current);
      else e.waiter.release(current);
    }
    if (end < all.length) setImmediate(() => this.releaseFrom(all, end));
  }

  private remove(e: Entry): void {
    if (!this.entries.delete(e)) return;
    e.waiter.heldMs += performance.now() - e.at;
    clearTimeout(e.timer);
    e.waiter.res.off('close', e.onClose);
    if (this.slot.observer) this.slot.observer.held--;
    if (this.entries.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  /**
   * Count one request refused because the queue was full. Returns how many were refused since
   * the last report when a report is due (the first one at once, then at most once a second),
   * else 0.
   */
  refused(): number {
    this.refusedSince++;
    const now = performance.now();
    if (this.reportedAt !== 0 && now - this.reportedAt < 1000) return 0;
    this.reportedAt = now;
    const n = this.refusedSince;
    this.refusedSince = 0;
    return n;
  }

  /** Answer every held request now (shutdown). */
  flush(): void {
    for (const e of [...this.entries]) {
      this.remove(e);
      sendError(e.waiter.res, 'shutting_down', 'drproxy is shutting down', 1);
    }
  }
}

function byStart(a: Entry, b: Entry): number {
  return a.waiter.startedAt - b.waiter.startedAt;
}

export function retryAfter(route: TenantRoute): number {
  return Math.max(1, Math.ceil(route.holdMs / 1000));
}
