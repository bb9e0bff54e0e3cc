/**
 * The data plane's connection counts under server.workers: each worker's ConnectionGuard counts
 * its own; at each scrape the main thread sums the answers into this object, which /metrics
 * reads in place of the inline data plane's guard (drproxy_connections_open, _limit,
 * _refused_total). Refusals never go down: a worker that exits keeps what it counted.
 */
import type { ConnectionCounts } from '../metrics/connections.js';

export interface WorkerConnectionCounts {
  readonly open: number;
  readonly cap: number;
  readonly refused: Readonly<Record<string, number>>;
}

export class WorkerConnections implements ConnectionCounts {
  open = 0;
  cap = 0;
  refused: Record<string, number> = {};
  private readonly last = new Map<string, Readonly<Record<string, number>>>();
  private readonly gone: Record<string, number> = {};

  /** One scrape's answers from the live workers. */
  fold(answers: ReadonlyMap<string, WorkerConnectionCounts>): void {
    let open = 0;
    let cap = 0;
    for (const [worker, c] of answers) {
      open += c.open;
      cap += c.cap;
      this.last.set(worker, c.refused);
    }
    this.open = open;
    this.cap = cap;
    const refused: Record<string, number> = { ...this.gone };
    for (const r of this.last.values()) for (const [k, n] of Object.entries(r)) refused[k] = (refused[k] ?? 0) + n;
    this.refused = refused;
  }

  /** A worker exited: what it refused stays counted. */
  forget(worker: string): void {
    const r = this.last.get(worker);
    if (r === undefined) return;
    for (const [k, n] of Object.entries(r)) this.gone[k] = (this.gone[k] ?? 0) + n;
    this.last.delete(worker);
  }
}
