/**
 * Drill reports in the state directory (embedded mode): `<state.dir>/drills/<id>.json`, and
 * `<id>.md` beside it when a Markdown renderer is given. Each write replaces the file
 * atomically and durably (temp file, fsync, rename, fsync of the directory: the state's
 * AtomicWriter), so a report read after a crash is one that was written whole.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicWriter } from '../state/atomic-writer.js';
import type { AnyDrillReport, DrillListEntry, DrillStore } from './types.js';

/** A report id is a safe file name (drill ids are "drill-<time>-<tenant>-<hex>"). */
export const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

export function listEntry(r: AnyDrillReport): DrillListEntry {
  return {
    id: r.id,
    kind: r.kind,
    ...(r.kind === 'drproxy.drill' ? { tenant: r.tenant } : { region: r.region }),
    status: r.status,
    started_at: r.started_at,
    ...(r.ended_at !== undefined && { ended_at: r.ended_at }),
    ...(r.kind === 'drproxy.drill' && r.measured_rto_ms !== undefined && { measured_rto_ms: r.measured_rto_ms }),
  };
}

export class FileDrillStore implements DrillStore {
  private readonly dir: string;
  private readonly writer = new AtomicWriter();
  private ready: Promise<unknown> | undefined;
  /** Id → list entry, for listing without reading every file again. */
  private entries: Map<string, DrillListEntry> | undefined;

  constructor(
    stateDir: string,
    private readonly markdown?: (r: AnyDrillReport) => string,
  ) {
    this.dir = join(stateDir, 'drills');
  }

  private open(): Promise<unknown> {
    return (this.ready ??= mkdir(this.dir, { recursive: true }));
  }

  async put(report: AnyDrillReport): Promise<void> {
    if (!REPORT_ID.test(report.id)) throw new Error(`not a valid report id: ${report.id}`);
    await this.open();
    const file = join(this.dir, `${report.id}.json`);
    await this.writer.write(file, `${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    if (this.markdown) {
      const md = join(this.dir, `${report.id}.md`);
      await this.writer.write(md, `${md}.tmp`, this.markdown(report));
    }
    (await this.index()).set(report.id, listEntry(report));
  }

  async get(id: string): Promise<AnyDrillReport | undefined> {
    if (!REPORT_ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as AnyDrillReport;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async list(filter: { tenant?: string; limit?: number } = {}): Promise<DrillListEntry[]> {
    const all = [...(await this.index()).values()].filter((e) => filter.tenant === undefined || e.tenant === filter.tenant);
    all.sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : b.id.localeCompare(a.id)));
    return filter.limit === undefined ? all : all.slice(0, filter.limit);
  }

  async running(): Promise<AnyDrillReport[]> {
    const ids = [...(await this.index()).values()].filter((e) => e.status === 'running').map((e) => e.id);
    const reports = await Promise.all(ids.map((id) => this.get(id)));
    return reports.filter((r): r is AnyDrillReport => r !== undefined && r.status === 'running');
  }

  async close(): Promise<void> {
    await this.writer.close();
  }

  /** Every report's list entry, read from the directory once; a file that does not parse is skipped. */
  private async index(): Promise<Map<string, DrillListEntry>> {
    if (this.entries) return this.entries;
    await this.open();
    const map = new Map<string, DrillListEntry>();
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const r = await this.get(name.slice(0, -'.json'.length)).catch(() => undefined);
      if (r && typeof r.id === 'string' && typeof r.status === 'string') map.set(r.id, listEntry(r));
    }
    // Two callers may have read at once: keep the first map, entries put meanwhile are in it.
    return (this.entries ??= map);
  }
}
