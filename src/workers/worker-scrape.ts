/**
 * `/metrics` in threaded mode: every worker is asked for its registry (as JSON) and its
 * per-tenant traffic counts; each has SCRAPE_BOUND_MS to answer, and one that does not is left
 * out of this scrape and counted (drproxy_worker_scrape_timeouts_total). The registries are
 * merged with prom-client's AggregatorRegistry.aggregate (summed unless their labels differ).
 */
import { AggregatorRegistry } from 'prom-client';
import type { TrafficCounts } from './worker-traffic.js';
import type { WorkerConnectionCounts } from './worker-connections.js';
import type { Tallies } from './worker-tallies.js';

export const SCRAPE_BOUND_MS = 1000;

export interface WorkerAnswer {
  readonly metrics: object[];
  readonly traffic: Record<string, TrafficCounts>;
  readonly connections: WorkerConnectionCounts;
  readonly tallies: Tallies;
}

export class WorkerScrape {
  private serial = 0;
  private readonly pending = new Map<number, Map<string, (a: WorkerAnswer) => void>>();
  /** Workers that did not answer a scrape in time, since start. */
  timeouts = 0;

  constructor(
    private readonly ids: () => string[],
    private readonly ask: (worker: string, id: number) => boolean,
  ) {}

  /** Every live worker's answer (within the bound), by worker id. */
  async collect(): Promise<Map<string, WorkerAnswer>> {
    const id = ++this.serial;
    const waiting = new Map<string, (a: WorkerAnswer) => void>();
    this.pending.set(id, waiting);
    const got = new Map<string, WorkerAnswer>();
    await Promise.all(
      this.ids().map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => (this.timeouts++, resolve()), SCRAPE_BOUND_MS);
            waiting.set(w, (a) => (clearTimeout(timer), got.set(w, a), resolve()));
            if (!this.ask(w, id)) (clearTimeout(timer), resolve());
          }),
      ),
    );
    this.pending.delete(id);
    return got;
  }

  /** The workers' registries merged, as exposition text, with the timeouts counter. */
  async text(answers: ReadonlyMap<string, WorkerAnswer>): Promise<string> {
    const own = `# HELP drproxy_worker_scrape_timeouts_total Data-plane workers left out of a scrape: no answer within ${SCRAPE_BOUND_MS} ms\n# TYPE drproxy_worker_scrape_timeouts_total counter\ndrproxy_worker_scrape_timeouts_total ${this.timeouts}\n`;
    if (answers.size === 0) return own;
    return (await AggregatorRegistry.aggregate([...answers.values()].map((a) => a.metrics)).metrics()) + own;
  }

  /** A worker's `metrics` answer. */
  answer(worker: string, id: number, a: WorkerAnswer): void {
    this.pending.get(id)?.get(worker)?.(a);
  }
}
