/**
 * Warm standby sockets (proxy.standby_connections) under server.workers: they live in the
 * workers' Backends, the main thread's serve nothing. Each worker reports the idle and taken
 * counts of its Backends that were given a standby order, every WARM_REPORT_MS and only what
 * changed (no message per request, none at all while nothing changes); the main thread keeps
 * each worker's last figures and its Backend's `standbySockets` (tenant status) reads their sum.
 */
import type { Backend } from '../proxy/backend.js';

/** How often a worker looks at its warm sockets (they change on dial, hand-over and replacement). */
export const WARM_REPORT_MS = 250;

/** `[backend id, idle, taken]` per backend whose counts changed since the worker's last report. */
export type WarmCounts = Array<[id: number, idle: number, taken: number]>;

/** The worker's side: what changed since the last report, on a timer that keeps no thread alive. */
export class WarmReporter {
  private readonly watched = new Set<number>();
  private readonly sent = new Map<number, { idle: number; taken: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: (id: number) => Backend | undefined,
    private readonly post: (counts: WarmCounts) => void,
  ) {}

  /** A standby order reached this Backend: report its counts from now on. */
  watch(id: number): void {
    this.watched.add(id);
    this.timer ??= setInterval(() => this.report(), WARM_REPORT_MS).unref();
  }

  /** Backends a reload retired: a last report of 0 for each. */
  unwatch(ids: readonly number[]): void {
    const gone: WarmCounts = [];
    for (const id of ids) {
      if (!this.watched.delete(id)) continue;
      if (this.sent.delete(id)) gone.push([id, 0, 0]);
    }
    if (gone.length > 0) this.post(gone);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  report(): void {
    const changed: WarmCounts = [];
    for (const id of this.watched) {
      const s = this.backend(id)?.standbySockets ?? { idle: 0, taken: 0 };
      const last = this.sent.get(id);
      if (last !== undefined && last.idle === s.idle && last.taken === s.taken) continue;
      this.sent.set(id, s);
      changed.push([id, s.idle, s.taken]);
    }
    if (changed.length > 0) this.post(changed);
  }
}

/** The main thread's side: each live worker's last figures per backend id, summed on reading. */
export class WarmFold {
  private readonly byWorker = new Map<string, Map<number, { idle: number; taken: number }>>();

  /** A worker's report. */
  add(worker: string, counts: WarmCounts): void {
    let own = this.byWorker.get(worker);
    if (own === undefined) this.byWorker.set(worker, (own = new Map()));
    for (const [id, idle, taken] of counts) {
      if (idle === 0 && taken === 0) own.delete(id);
      else own.set(id, { idle, taken });
    }
  }

  /** The idle warm sockets of one backend, and how many their pools took, over every live worker. */
  of(id: number): { idle: number; taken: number } {
    let idle = 0;
    let taken = 0;
    for (const own of this.byWorker.values()) {
      const c = own.get(id);
      if (c === undefined) continue;
      idle += c.idle;
      taken += c.taken;
    }
    return { idle, taken };
  }

  /** A worker exited: its sockets went with it. */
  forget(worker: string): void {
    this.byWorker.delete(worker);
  }
}
