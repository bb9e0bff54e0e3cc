/**
 * One consistent view of a fleet's keys: read at one revision (tenants, replicas, acks), then
 * watched from the next revision on three prefix watches, so that no event between the read
 * and the watch is lost. etcd3 resumes a broken watch after the last revision it saw; a watch
 * that etcd cancels (compacted past its revision) calls `onLost`, and the owner reads again.
 */
import type { AckBook } from './acks.js';
import { parseAck } from './acks.js';
import type { EtcdClient, EtcdWatch, KeyValue, WatchEvent } from './etcd.js';
import type { ClusterKeys } from './keys.js';
import type { TenantCache } from './tenant-cache.js';

export interface ViewDeps {
  client: Pick<EtcdClient, 'getPrefix' | 'watchPrefix'>;
  keys: ClusterKeys;
  cache: TenantCache;
  book: AckBook;
  /** A watch was cancelled by etcd (compaction): read everything again. */
  onLost(err: Error): void;
  onDisconnected(err: Error): void;
  /** The live replicas may have changed (a registration came or went, or a fresh read). */
  onReplicas?(): void;
}

export class ClusterView {
  #watches: EtcdWatch[] = [];
  /** Bumped by each read: events of an older generation's watches are ignored. */
  #generation = 0;
  #closed = false;

  constructor(private readonly deps: ViewDeps) {}

  /** Reads every key at one revision, installs it, and watches from the next revision. */
  async read(): Promise<number> {
    const { client, keys } = this.deps;
    const tenants = await client.getPrefix(keys.tenants);
    const at = tenants.revision;
    const [replicas, acks] = await Promise.all([client.getPrefix(keys.replicas, at), client.getPrefix(keys.acks, at)]);
    if (this.#closed) return at; // closed while reading: start no watch
    const generation = ++this.#generation;
    this.#cancelWatches();
    this.#install(tenants.kvs, replicas.kvs, acks.kvs);
    this.#watch(generation, at + 1);
    return at;
  }

  close(): void {
    this.#closed = true;
    this.#generation++;
    this.#cancelWatches();
  }

  #install(tenants: KeyValue[], replicas: KeyValue[], acks: KeyValue[]): void {
    const { keys, cache, book } = this.deps;
    const seen = new Set<string>();
    for (const kv of tenants) {
      const t = keys.tenantOf(kv.key);
      if (t === undefined) continue;
      seen.add(t);
      cache.apply(t, kv.value, kv.modRevision);
    }
    for (const t of [...cache.tenants()]) if (!seen.has(t)) cache.forget(t);
    const ids = replicas.map((kv) => keys.replicaOf(kv.key)).filter((id): id is string => id !== undefined);
    const records: Array<[string, string, NonNullable<ReturnType<typeof parseAck>>]> = [];
    for (const kv of acks) {
      const where = keys.ackOf(kv.key);
      const ack = parseAck(kv.value);
      if (where !== undefined && ack !== undefined) records.push([where[0], where[1], ack]);
    }
    book.reset(ids, records);
    this.deps.onReplicas?.();
  }

  #watch(generation: number, from: number): void {
    const { client, keys } = this.deps;
    const handlers = (apply: (ev: WatchEvent) => void) => ({
      onEvents: (events: WatchEvent[]) => {
        if (generation !== this.#generation) return;
        try {
          for (const ev of events) apply(ev);
        } catch (err) {
          // etcd3 rethrows a handler's error on a later turn, which would end the process: read again instead.
          this.deps.onLost(err as Error);
        }
      },
      onError: (err: Error) => {
        if (generation === this.#generation) this.deps.onLost(err);
      },
      onDisconnected: (err: Error) => {
        if (generation === this.#generation) this.deps.onDisconnected(err);
      },
    });
    this.#watches = [
      client.watchPrefix(keys.tenants, from, handlers((ev) => this.#onTenant(ev))),
      client.watchPrefix(keys.replicas, from, handlers((ev) => this.#onReplica(ev))),
      client.watchPrefix(keys.acks, from, handlers((ev) => this.#onAck(ev))),
    ];
  }

  #onTenant(ev: WatchEvent): void {
    const t = this.deps.keys.tenantOf(ev.kv.key);
    if (t === undefined) return;
    if (ev.type === 'put') this.deps.cache.apply(t, ev.kv.value, ev.kv.modRevision);
    else this.deps.cache.forget(t);
  }

  #onReplica(ev: WatchEvent): void {
    const id = this.deps.keys.replicaOf(ev.kv.key);
    if (id === undefined) return;
    if (ev.type === 'put') this.deps.book.replicaUp(id);
    else this.deps.book.replicaDown(id);
    this.deps.onReplicas?.();
  }

  #onAck(ev: WatchEvent): void {
    const where = this.deps.keys.ackOf(ev.kv.key);
    if (where === undefined) return;
    this.deps.book.setAck(where[0], where[1], ev.type === 'put' ? parseAck(ev.kv.value) : undefined);
  }

  #cancelWatches(): void {
    for (const w of this.#watches.splice(0)) void w.cancel();
  }
}
