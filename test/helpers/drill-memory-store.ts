/** A DrillStore in memory (scheduler and region unit tests; the real ones are the file and etcd stores). */
import type { AnyDrillReport, DrillListEntry, DrillStore } from '../../src/drill/types.js';
import { listEntry } from '../../src/drill/file-store.js';

export class MemoryDrillStore implements DrillStore {
  readonly reports = new Map<string, AnyDrillReport>();
  puts = 0;

  put(report: AnyDrillReport): Promise<void> {
    this.puts++;
    this.reports.set(report.id, structuredClone(report));
    return Promise.resolve();
  }

  get(id: string): Promise<AnyDrillReport | undefined> {
    const r = this.reports.get(id);
    return Promise.resolve(r && structuredClone(r));
  }

  list(filter: { tenant?: string; limit?: number } = {}): Promise<DrillListEntry[]> {
    const all = [...this.reports.values()]
      .filter((r) => filter.tenant === undefined || (r.kind === 'drproxy.drill' && r.tenant === filter.tenant))
      .sort((a, b) => b.started_at.localeCompare(a.started_at) || b.id.localeCompare(a.id))
      .map(listEntry);
    return Promise.resolve(all.slice(0, filter.limit ?? all.length));
  }

  running(): Promise<AnyDrillReport[]> {
    return Promise.resolve([...this.reports.values()].filter((r) => r.status === 'running'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
