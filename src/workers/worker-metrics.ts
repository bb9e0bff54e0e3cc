/**
 * A worker's own data-plane metrics (docs/design.md, "Every core: threads"): a prom-client
 * registry of the worker's, read as JSON at each scrape and merged by the main thread with
 * prom-client's AggregatorRegistry.aggregate (worker-scrape.ts). Per-worker series carry a
 * `worker` label (Envoy's per-worker listener stats): how evenly the kernel spreads connections
 * over the workers' reusePort sockets is worth seeing.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DataPlane } from '../proxy/data-plane.js';

export class WorkerMetrics {
  readonly registry = new Registry();

  constructor(worker: string, dataPlane: DataPlane) {
    const accepted = new Counter({ name: 'drproxy_worker_connections_total', help: 'Client connections accepted by each data-plane worker thread', labelNames: ['worker'], registers: [this.registry] });
    const mine = accepted.labels({ worker });
    mine.inc(0);
    for (const l of dataPlane.listeners.list) l.server.on('connection', () => mine.inc());
    // Each worker's own V8 heap (prom-client's nodejs_heap_* describe the main thread only).
    new Gauge({
      name: 'drproxy_worker_heap_space_size_bytes',
      help: 'V8 heap space sizes of each data-plane worker thread (new: the young generation)',
      labelNames: ['worker', 'space'],
      registers: [this.registry],
      collect() {
        for (const s of getHeapSpaceStatistics()) this.set({ worker, space: s.space_name.replace(/_space$/, '') }, s.space_size);
      },
    });
  }

  json(): Promise<unknown> {
    return this.registry.getMetricsAsJSON();
  }
}
