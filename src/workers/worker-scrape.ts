/**
 * `/metrics` in threaded mode: the main thread's own text, then the workers' registries merged
 * with prom-client's AggregatorRegistry.aggregate (counters and gauges summed over the workers
 * unless their labels differ). Each worker has SCRAPE_BOUND_MS to answer; one that does not is
 * left out of this scrape and counted (drproxy_worker_scrape_timeouts_total).
 */
import { AggregatorRegistry } from 'prom-client';

export const SCRAPE_BOUND_MS = 1000;

type Json = object[];

export class WorkerScrape {
  private serial = 0;
  private readonly pending = new Map<number, Map<string, (j: Json) => void>>();
  /** Workers that did not answer a scrape in time, since start. */
  timeouts = 0;

  constructor(
    private readonly ids: () => string[],
    private readonly ask: (worker: string, id: number) => boolean,
  ) {}

  /** The workers' merged metrics as exposition text (empty when none answered). */
  async text(): Promise<string> {
    const id = ++this.serial;
    const waiting = new Map<string, (j: Json) => void>();
    this.pending.set(id, waiting);
    const answers = this.ids().map(
      (w) =>
        new Promise<Json | undefined>((resolve) => {
          const timer = setTimeout(() => (this.timeouts++, resolve(undefined)), SCRAPE_BOUND_MS);
          waiting.set(w, (j) => (clearTimeout(timer), resolve(j)));
          if (!this.ask(w, id)) waiting.get(w)!([]);
        }),
    );
    const got = (await Promise.all(answers)).filter((j): j is Json => j !== undefined);
    this.pending.delete(id);
    const own = `# HELP drproxy_worker_scrape_timeouts_total Data-plane workers left out of a scrape: no answer within ${SCRAPE_BOUND_MS} ms\n# TYPE drproxy_worker_scrape_timeouts_total counter\ndrproxy_worker_scrape_timeouts_total ${this.timeouts}\n`;
    if (got.length === 0) return own;
    return (await AggregatorRegistry.aggregate(got).metrics()) + own;
  }

  /** A worker's `metrics` answer. */
  answer(worker: string, id: number, json: unknown): void {
    this.pending.get(id)?.get(worker)?.(json as Json);
  }
}
