/**
 * Drill reports in etcd (clustered mode), so that every replica shows every drill and a new
 * leader finds the drills its predecessor left `running` (docs/clustering.md, "Drills in
 * clustered mode"). Keys (P = state.etcd.prefix, keys.ts):
 *   P/drills/<id>       the report (JSON), replaced at each step;
 *   P/drill-index/<id>  its line of `GET /drills` (a few hundred bytes), written in the same
 *                       transaction, so that listing never reads every full report.
 *
 * Writes carry the leader's guard when one is given: a runner on a replica that lost its
 * leadership cannot overwrite the report its successor marked `interrupted` (DRP_NOT_LEADER).
 * A report that ended (any status but `running`) keeps its outcome: it may be written again
 * only with the same status (e.g. to add its signature), and each write is guarded by the mod
 * revision it read, so that a change by another replica is never silently replaced
 * (DRP_STATE_CONFLICT). Reads need no leadership. Every call runs with the client's deadline and fails with a typed DRP_ETCD_* error.
 */
import { DrProxyError } from '../errors.js';
import type { AnyDrillReport, DrillListEntry, DrillStore } from '../drill/types.js';
import type { Compare, EtcdClient, KeyValue } from './etcd.js';
import { clusterKeys } from './keys.js';

export interface EtcdDrillStoreOptions {
  client: Pick<EtcdClient, 'get' | 'getPrefix' | 'txn'>;
  /** state.etcd.prefix */
  prefix: string;
  /** The leader's guard clauses; throws (DRP_NOT_LEADER) when this replica does not lead. Unset: unguarded writes (tests, tools). */
  guard?: () => Compare[];
}

/** Report ids are one key segment (types.ts: "drill-<UTC>-<tenant>-<hex>"). */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export class EtcdDrillStore implements DrillStore {
  readonly #o: EtcdDrillStoreOptions;
  readonly #keys: ReturnType<typeof clusterKeys>;

  constructor(options: EtcdDrillStoreOptions) {
    this.#o = options;
    this.#keys = clusterKeys(options.prefix);
  }

  async put(report: AnyDrillReport): Promise<void> {
    const id = report.id;
    if (!ID.test(id)) throw new DrProxyError('DRP_USAGE', `drill report id ${JSON.stringify(id)}: expected letters, digits, '.', '_', ':' or '-'`);
    const guard = this.#o.guard?.() ?? [];
    const key = this.#keys.drills + id;
    // Read, then write guarded by what was read: an ended report keeps its outcome, whoever writes.
    const { kv } = await this.#o.client.get(key);
    const stored = kv && parse<AnyDrillReport>(kv.value)?.status;
    if (stored !== undefined && stored !== 'running' && stored !== report.status) {
      throw new DrProxyError('DRP_STATE_CONFLICT', `drill ${id}: its report already ended as ${stored}; not overwritten with ${report.status}`);
    }
    const unchanged: Compare = kv === undefined ? { key, target: 'create', value: 0 } : { key, target: 'mod', value: kv.modRevision };
    const res = await this.#o.client.txn(
      [...guard, unchanged],
      [
        { put: key, value: JSON.stringify(report) },
        { put: this.#keys.drillIndex + id, value: JSON.stringify(entryOf(report)) },
      ],
    );
    if (!res.succeeded) throw await this.#refusal(id, key, kv?.modRevision ?? 0);
  }

  async get(id: string): Promise<AnyDrillReport | undefined> {
    if (!ID.test(id)) return undefined;
    const { kv } = await this.#o.client.get(this.#keys.drills + id);
    return kv && this.#read(kv);
  }

  async list(filter: { tenant?: string; limit?: number } = {}): Promise<DrillListEntry[]> {
    const { kvs } = await this.#o.client.getPrefix(this.#keys.drillIndex);
    const entries: DrillListEntry[] = [];
    for (const kv of kvs) {
      const e = parse<DrillListEntry>(kv.value);
      // A line that does not parse is left out of the list; its report still answers GET /drills/:id.
      if (e === undefined || (filter.tenant !== undefined && e.tenant !== filter.tenant)) continue;
      entries.push(e);
    }
    entries.sort(newestFirst);
    return filter.limit === undefined ? entries : entries.slice(0, Math.max(0, filter.limit));
  }

  async running(): Promise<AnyDrillReport[]> {
    const ids = (await this.list()).filter((e) => e.status === 'running').map((e) => e.id);
    const reports = await Promise.all(ids.map((id) => this.get(id)));
    return reports.filter((r): r is AnyDrillReport => r?.status === 'running');
  }

  /** The client belongs to the replica (closed with it). */
  async close(): Promise<void> {}

  #read(kv: KeyValue): AnyDrillReport {
    const report = parse<AnyDrillReport>(kv.value);
    if (report === undefined || typeof report.id !== 'string') throw new DrProxyError('DRP_STATE_CORRUPT', `etcd ${kv.key}: not a drill report (the value is not its JSON)`);
    return report;
  }

  /** Why a guarded write did not happen: the report changed under us, or we do not lead any more. */
  async #refusal(id: string, key: string, readAt: number): Promise<DrProxyError> {
    const { kv } = await this.#o.client.get(key);
    if ((kv?.modRevision ?? 0) !== readAt) {
      return new DrProxyError('DRP_STATE_CONFLICT', `drill ${id}: its report was changed by another replica while this one wrote it; not overwritten`);
    }
    return new DrProxyError('DRP_NOT_LEADER', `drill ${id}: this replica is no longer the leader; its report was not written`);
  }
}

/** The report's line of `GET /drills`. */
export function entryOf(r: AnyDrillReport): DrillListEntry {
  const e: DrillListEntry = { id: r.id, kind: r.kind, status: r.status, started_at: r.started_at };
  if (r.kind === 'drproxy.drill') {
    e.tenant = r.tenant;
    if (r.measured_rto_ms !== undefined) e.measured_rto_ms = r.measured_rto_ms;
  } else e.region = r.region;
  if (r.ended_at !== undefined) e.ended_at = r.ended_at;
  return e;
}

function newestFirst(a: DrillListEntry, b: DrillListEntry): number {
  return a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function parse<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}
