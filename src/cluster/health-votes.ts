/**
 * Health votes on etcd (clustered mode, "Health by quorum"; docs/design.md): each replica
 * publishes its own view of each tenant's sites as `P/votes/<replica>/<tenant>` under its lease,
 * and watches every replica's votes, so that the leader can decide by quorum
 * (failover/quorum-health.ts) and a replica can answer a peer's `down` vote by probing at once.
 *
 * - Writes only when a tenant's view changed (the sites' votes or a detection start; the epoch
 *   alone is not a change), coalesced per tenant and batched per turn into transactions of at
 *   most 128 operations (etcd's default --max-txn-ops): a region failure changes the views of
 *   hundreds of tenants in the same turn, and must not cost a round trip each. One batch is in
 *   flight at a time, so a tenant's older view can never land after its newer one.
 * - Under the lease given (`useLease`): the votes of a replica that dies or is cut off vanish
 *   with its lease; a new lease republishes every view. A failed batch is retried.
 * - Watches `P/votes/` from the revision it read them at; etcd3 resumes the watch after a cut
 *   from the last revision seen, and a watch cancelled by etcd (compaction) is re-read and
 *   re-watched from the new revision.
 *
 * Replica IDs must not contain "/" (the key is split at the first one after the prefix).
 */
import { EventEmitter } from 'node:events';
import { DrProxyError } from '../errors.js';
import type { HealthVote } from '../failover/quorum-health.js';
import type { EtcdClient, EtcdWatch, KeyValue, Op, WatchEvent } from './etcd.js';

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;

export interface HealthVotesOptions {
  client: Pick<EtcdClient, 'txn' | 'getPrefix' | 'watchPrefix'>;
  /** Key prefix of this fleet (state.etcd.prefix); votes go under `<prefix>/votes/`. */
  prefix: string;
  replicaId: string;
  /** The lease to write under; none yet: views are kept and written once `useLease` gives one. */
  leaseId?: string;
  /** Operations per transaction at most. Default: 128. */
  maxOps?: number;
  /** Wait before retrying after an etcd error, ms. Default: 250. */
  retryDelay?: number;
}

export interface HealthVotesEvents {
  /** Another replica voted `site` down while this replica's latest own view has it up. */
  peerDown: [tenant: string, site: string, replicaId: string];
  /** Other replicas' votes for the tenant changed (came, changed or went): decide again. */
  changed: [tenant: string];
  /** An etcd error while writing or watching (retried; never thrown). */
  etcd_error: [err: DrProxyError];
}

interface OwnView {
  vote: HealthVote;
  /** The view without its time and epoch: what "changed" compares. */
  key: string;
}

export class HealthVotes extends EventEmitter<HealthVotesEvents> {
  /** `<prefix>/votes/`. */
  readonly root: string;
  readonly #opts: HealthVotesOptions;
  readonly #maxOps: number;
  readonly #retryDelay: number;
  #lease: string | undefined;
  /** This replica's latest view per tenant (undefined: withdrawn, its key to delete). */
  readonly #own = new Map<string, OwnView | undefined>();
  /** The view key written under the current lease, per tenant. */
  readonly #written = new Map<string, string>();
  /** Tenants whose view may differ from what is written. */
  readonly #dirty = new Set<string>();
  /** Other replicas' latest votes: tenant → replica → vote. */
  #peers = new Map<string, Map<string, HealthVote>>();
  #flushQueued = false;
  #flushing = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #watch: EtcdWatch | undefined;
  #loading: Promise<void> | undefined;
  #closed = false;
  #transactions = 0;

  constructor(options: HealthVotesOptions) {
    super();
    if (options.replicaId === '' || options.replicaId.includes('/')) throw new RangeError(`replica id ${JSON.stringify(options.replicaId)} must be non-empty and without "/"`);
    this.#opts = options;
    this.root = `${options.prefix.replace(/\/+$/, '')}/votes/`;
    this.#lease = options.leaseId;
    this.#maxOps = options.maxOps ?? MAX_TXN_OPS;
    this.#retryDelay = options.retryDelay ?? 250;
  }

  /** Reads every replica's votes and watches them from there; resolves once they are read. */
  start(): Promise<void> {
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /**
   * This replica's view of the tenant now. Written (on a later turn, batched) only when it
   * differs from the last one written; true when it did.
   */
  publish(tenant: string, vote: HealthVote): boolean {
    const key = viewKey(vote);
    const prev = this.#own.get(tenant);
    this.#own.set(tenant, { vote, key });
    if (prev?.key === key) return false;
    this.#markDirty(tenant);
    return true;
  }

  /** The tenant is gone from this replica's config: its vote is deleted. */
  withdraw(tenant: string): void {
    if (!this.#own.has(tenant)) return;
    this.#own.set(tenant, undefined);
    this.#markDirty(tenant);
  }

  /** The lease votes are written under; undefined: none, or it was found gone (held until useLease). */
  get leaseId(): string | undefined {
    return this.#lease;
  }

  /** Transactions sent so far (metrics, tests). */
  get transactions(): number {
    return this.#transactions;
  }

  /** This replica's latest own view of the tenant (as published, maybe not written yet). */
  ownVote(tenant: string): HealthVote | undefined {
    return this.#own.get(tenant)?.vote;
  }

  /** Other replicas' latest votes for the tenant, by replica ID. */
  votesFor(tenant: string): ReadonlyMap<string, HealthVote> {
    return this.#peers.get(tenant) ?? EMPTY;
  }

  /**
   * Writes under `leaseId` from now on. A new lease holds none of our keys (the old one's went,
   * or go, with it): every view is written again. undefined: hold writes until a lease is given.
   */
  useLease(leaseId: string | undefined): void {
    if (leaseId === this.#lease) return;
    this.#lease = leaseId;
    this.#written.clear();
    for (const [tenant, view] of this.#own) {
      // A withdrawn tenant's key went with the old lease.
      if (view === undefined) this.#own.delete(tenant);
      else this.#markDirty(tenant);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const watch = this.#watch;
    this.#watch = undefined;
    await watch?.cancel();
  }

  #markDirty(tenant: string): void {
    this.#dirty.add(tenant);
    this.#schedule();
  }

  /** One flush per turn, after every publish of the turn; never two at once; none while retrying. */
  #schedule(): void {
    if (this.#flushQueued || this.#flushing || this.#retryTimer !== undefined || this.#closed) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined || this.#closed) return;
    const batch = this.#takeBatch(lease);
    if (batch.length === 0) return;
    this.#flushing = true;
    let failed = false;
    let leaseLost = false;
    try {
      const chunks: Array<typeof batch> = [];
      for (let i = 0; i < batch.length; i += this.#maxOps) chunks.push(batch.slice(i, i + this.#maxOps));
      const results = await Promise.allSettled(chunks.map((chunk) => this.#send(chunk.map((w) => w.op))));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return this.#wrote(chunks[i]!, lease);
        failed = true;
        // Written again on the retry, unless a newer view is already waiting.
        for (const w of chunks[i]!) this.#dirty.add(w.tenant);
        const err = asDrProxyError(r.reason);
        leaseLost ||= err.code === 'DRP_ETCD_LEASE_LOST';
        this.emit('etcd_error', err);
      });
    } finally {
      this.#flushing = false;
    }
    // Nothing can be written under a lease that is gone: hold until useLease gives a new one.
    if (leaseLost && lease === this.#lease) this.#lease = undefined;
    else if (failed && !this.#closed) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#schedule();
      }, this.#retryDelay);
    } else if (this.#dirty.size > 0) this.#schedule();
  }

  /** The dirty tenants whose view differs from what is written, as operations. */
  #takeBatch(lease: string): Array<{ tenant: string; key: string | undefined; op: Op }> {
    const batch: Array<{ tenant: string; key: string | undefined; op: Op }> = [];
    for (const tenant of this.#dirty) {
      const view = this.#own.get(tenant);
      if (view?.key === this.#written.get(tenant)) continue;
      const key = `${this.root}${this.#opts.replicaId}/${tenant}`;
      batch.push({ tenant, key: view?.key, op: view ? { put: key, value: JSON.stringify(view.vote), lease } : { delete: key } });
    }
    this.#dirty.clear();
    return batch;
  }

  #send(ops: Op[]): Promise<unknown> {
    this.#transactions++;
    return this.#opts.client.txn([], ops);
  }

  #wrote(chunk: ReadonlyArray<{ tenant: string; key: string | undefined }>, lease: string): void {
    if (lease !== this.#lease) return;
    for (const w of chunk) {
      if (w.key === undefined) {
        this.#written.delete(w.tenant);
        if (this.#own.get(w.tenant) === undefined) this.#own.delete(w.tenant);
      } else this.#written.set(w.tenant, w.key);
    }
  }

  /** Reads every vote at one revision, then watches from the next; retried until it works. */
  async #load(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      try {
        const { kvs, revision } = await this.#opts.client.getPrefix(this.root);
        this.#replaceAll(kvs);
        this.#watchFrom(revision + 1);
        return;
      } catch (err) {
        this.emit('etcd_error', asDrProxyError(err));
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelay));
      }
    }
  }

  #watchFrom(revision: number): void {
    if (this.#closed) return;
    this.#watch = this.#opts.client.watchPrefix(this.root, revision, {
      onEvents: (events) => this.#onEvents(events),
      onError: (err) => {
        // Cancelled by etcd (compacted past our revision): read everything again.
        this.emit('etcd_error', err);
        const dead = this.#watch;
        this.#watch = undefined;
        void dead?.cancel();
        void this.start();
      },
    });
  }

  /** A fresh read: every tenant whose votes differ from what we had is `changed`. */
  #replaceAll(kvs: readonly KeyValue[]): void {
    const old = this.#peers;
    this.#peers = new Map();
    for (const kv of kvs) this.#put(kv, old);
    for (const tenant of new Set([...old.keys(), ...this.#peers.keys()])) {
      if (!sameVotes(old.get(tenant), this.#peers.get(tenant))) this.emit('changed', tenant);
    }
  }

  #onEvents(events: readonly WatchEvent[]): void {
    const changed = new Set<string>();
    for (const ev of events) {
      const tenant = ev.type === 'put' ? this.#put(ev.kv) : this.#delete(ev.kv.key);
      if (tenant !== undefined) changed.add(tenant);
    }
    for (const tenant of changed) this.emit('changed', tenant);
  }

  /**
   * A peer's vote written; the tenant, or undefined when it is not a peer's vote. `before`: the
   * votes as they were (a fresh read compares with the previous read's).
   */
  #put(kv: KeyValue, before = this.#peers): string | undefined {
    const at = this.#parseKey(kv.key);
    if (at === undefined) return undefined;
    const vote = parseVote(kv.value);
    if (vote === undefined) {
      this.emit('etcd_error', new DrProxyError('DRP_ETCD_REJECTED', `etcd key ${kv.key}: not a health vote`));
      return this.#delete(kv.key);
    }
    let votes = this.#peers.get(at.tenant);
    if (votes === undefined) this.#peers.set(at.tenant, (votes = new Map()));
    const prev = before.get(at.tenant)?.get(at.replica);
    votes.set(at.replica, vote);
    this.#peerDowns(at.tenant, at.replica, prev, vote);
    return at.tenant;
  }

  #delete(key: string): string | undefined {
    const at = this.#parseKey(key);
    if (at === undefined) return undefined;
    const votes = this.#peers.get(at.tenant);
    if (!votes?.delete(at.replica)) return undefined;
    if (votes.size === 0) this.#peers.delete(at.tenant);
    return at.tenant;
  }

  /** A site the peer now sees down, and did not before, that our own latest view has up. */
  #peerDowns(tenant: string, replica: string, prev: HealthVote | undefined, vote: HealthVote): void {
    const own = this.#own.get(tenant)?.vote;
    if (own === undefined) return;
    for (const [site, v] of Object.entries(vote.sites)) {
      if (v === 'down' && prev?.sites[site] !== 'down' && own.sites[site] === 'up') this.emit('peerDown', tenant, site, replica);
    }
  }

  /** `<root><replica>/<tenant>` of another replica, or undefined (ours, or not a vote key). */
  #parseKey(key: string): { replica: string; tenant: string } | undefined {
    if (!key.startsWith(this.root)) return undefined;
    const rest = key.slice(this.root.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) return undefined;
    const replica = rest.slice(0, slash);
    return replica === this.#opts.replicaId ? undefined : { replica, tenant: rest.slice(slash + 1) };
  }
}

const EMPTY: ReadonlyMap<string, HealthVote> = new Map();

function viewKey(vote: HealthVote): string {
  return JSON.stringify([vote.sites, vote.detection]);
}

function parseVote(value: string): HealthVote | undefined {
  try {
    const v = JSON.parse(value) as Partial<HealthVote> | null;
    if (v === null || typeof v !== 'object' || typeof v.sites !== 'object' || v.sites === null) return undefined;
    return { epoch: Number(v.epoch) || 0, sites: v.sites, detection: typeof v.detection === 'object' && v.detection !== null ? v.detection : {}, at: Number(v.at) || 0 };
  } catch {
    return undefined;
  }
}

function sameVotes(a: ReadonlyMap<string, HealthVote> | undefined, b: ReadonlyMap<string, HealthVote> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [replica, vote] of a ?? []) {
    const other = b?.get(replica);
    if (other === undefined || JSON.stringify(other) !== JSON.stringify(vote)) return false;
  }
  return true;
}

function asDrProxyError(err: unknown): DrProxyError {
  return err instanceof DrProxyError ? err : new DrProxyError('DRP_ETCD_UNAVAILABLE', String(err));
}
