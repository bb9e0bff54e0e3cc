/**
 * `leader_changed` (clustered mode): told by the replica that starts leading (with the leader
 * before it) and by one that stops, so that one change is one or two events, not one per
 * replica. A restart storm is not a flood: after an event, further changes within `quietMs`
 * wait and go out as one event at the end of that window (the latest state, with the count of
 * changes it stands for); the sinks' own coalescing then batches what remains.
 */
import type { Notifier, NotifyEvent } from './events.js';

export class LeaderNotices {
  /** Monotonic time of the last event emitted. */
  private last = -Infinity;
  private pending: NotifyEvent | undefined;
  private changes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly notifier: () => Notifier,
    private readonly now: () => number,
    private readonly quietMs = 30_000,
  ) {}

  changed(replica: string, leading: boolean, previous?: string): void {
    const summary = leading ? `replica ${replica} now leads the cluster${previous !== undefined ? ` (previous leader: ${previous})` : ''}` : `replica ${replica} stopped leading the cluster`;
    const event: NotifyEvent = {
      kind: 'leader_changed',
      at: this.now(),
      severity: leading ? 'info' : 'warning',
      summary,
      dedup_key: 'leader_changed',
      details: { replica, leading, leader: leading ? replica : null, previous: previous ?? null },
    };
    const t = performance.now();
    if (this.timer === undefined && t - this.last >= this.quietMs) {
      this.send(event, t);
      return;
    }
    this.pending = event;
    this.changes++;
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.last + this.quietMs - t)).unref();
  }

  private flush(): void {
    this.timer = undefined;
    const e = this.pending;
    if (e === undefined) return;
    if (this.changes > 1) e.summary += ` (${this.changes} leadership changes of this replica in the last ${Math.round(this.quietMs / 1000)} s)`;
    e.details = { ...e.details, changes: this.changes };
    this.pending = undefined;
    this.changes = 0;
    this.send(e, performance.now());
  }

  private send(e: NotifyEvent, t: number): void {
    this.last = t;
    this.notifier().emit(e);
  }
}
