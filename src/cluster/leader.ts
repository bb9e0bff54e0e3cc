/**
 * Leader election with a fencing token (docs/design.md, "Clustered mode: leases and
 * leadership"). `etcd3`'s Election exposes no token, so this is our own, on etcd's primitives:
 *
 * - campaign: one transaction `create_revision(<prefix>/leader) == 0 → put(<prefix>/leader,
 *   replicaId, our lease)`. The leader's token is that key's create revision: etcd gives every
 *   write a new, larger revision, so each leadership term has its own token and a later term's
 *   is larger; the key only goes with its lease (or a resign).
 * - every leader commit carries `guard()`: the leader key's create revision == token (checked by
 *   etcd, in the same transaction) and our lease still valid by our own monotonic deadline
 *   (checked here, before sending).
 * - the leader steps down the moment the lease keeper reports `lost` (its own deadline); followers
 *   watch the key and campaign when it is deleted (resign or lease expiry).
 */
import { EventEmitter } from 'node:events';
import { DrProxyError } from '../errors.js';
import type { Compare, EtcdClient, EtcdWatch, KeyValue, WatchEvent } from './etcd.js';
import type { LeaseKeeper } from './lease.js';

export interface LeaderElectionOptions {
  client: Pick<EtcdClient, 'get' | 'txn' | 'watchPrefix'>;
  lease: LeaseKeeper;
  /** Key prefix of this fleet (state.etcd.prefix); the leader key is `<prefix>/leader`. */
  prefix: string;
  replicaId: string;
  /** Wait before retrying after an etcd error, ms. Default: 250. */
  retryDelay?: number;
}

export interface LeaderElectionEvents {
  /** This replica became leader; `token` is the leader key's create revision. */
  elected: [token: number];
  /** This replica stopped being leader (lease lost by our deadline, key gone, or closed). */
  stepped_down: [reason: string];
  /** The leader seen in etcd changed (undefined: none right now). */
  leader_changed: [leaderId: string | undefined];
  /** An etcd error while campaigning or watching (retried; never thrown). */
  etcd_error: [err: DrProxyError];
}

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  readonly key: string;
  readonly #opts: LeaderElectionOptions;
  readonly #retryDelay: number;
  #token: number | undefined;
  #leaderId: string | undefined;
  #watch: EtcdWatch | undefined;
  #closed = false;
  #running = false;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: LeaderElectionOptions) {
    super();
    this.#opts = options;
    this.key = `${options.prefix.replace(/\/+$/, '')}/leader`;
    this.#retryDelay = options.retryDelay ?? 250;
    options.lease.on('lost', (reason) => {
      this.#stepDown(`lease lost: ${reason.message}`);
      this.#kick();
    });
  }

  /** Starts campaigning (and watching the leader key). */
  start(): void {
    this.#kick();
  }

  /** Leader now: elected, and our lease valid by our own deadline at this instant. */
  isLeader(): boolean {
    return this.#token !== undefined && this.#opts.lease.isValid();
  }

  /** The leader's replica ID as last seen in etcd (ours when we lead). */
  get leaderId(): string | undefined {
    return this.#leaderId;
  }

  /** Our fencing token while we lead: the leader key's create revision. */
  get token(): number | undefined {
    return this.isLeader() ? this.#token : undefined;
  }

  /**
   * The clauses every leader commit must carry. Throws DRP_ETCD_LEASE_LOST when we are not
   * leader by our own deadline now: a commit built then would rely on etcd's guard alone.
   */
  guard(): Compare[] {
    if (!this.isLeader()) throw new DrProxyError('DRP_ETCD_LEASE_LOST', `replica ${this.#opts.replicaId} is not the leader`);
    return [{ key: this.key, target: 'create', value: this.#token! }];
  }

  /** Stops campaigning; a leader resigns by revoking its lease (the key goes at once). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#stepDown('closed');
    await this.#watch?.cancel();
    await this.#opts.lease.close();
  }

  /** Runs one election round; rounds never overlap, and a kick during one runs another. */
  #kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    clearTimeout(this.#retryTimer);
    this.#round()
      .catch((err: unknown) => {
        this.emit('etcd_error', err instanceof DrProxyError ? err : new DrProxyError('DRP_ETCD_UNAVAILABLE', String(err)));
        this.#again = false;
        this.#retryTimer = setTimeout(() => this.#kick(), this.#retryDelay);
      })
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        }
      });
  }

  async #round(): Promise<void> {
    const { client, lease, replicaId } = this.#opts;
    const leaseId = lease.id ?? (await lease.start());
    if (this.#closed) return;
    const res = await client.txn([{ key: this.key, target: 'create', value: 0 }], [{ put: this.key, value: replicaId, lease: leaseId }]);
    // Read back either way: a campaign that timed out may still have been applied.
    const { kv, revision } = res.succeeded ? { kv: undefined, revision: res.revision } : await client.get(this.key);
    if (this.#closed) return;
    if (res.succeeded) this.#adopt({ key: this.key, value: replicaId, createRevision: res.revision, modRevision: res.revision, version: 1, lease: leaseId });
    else this.#observe(kv, leaseId);
    this.#ensureWatch(revision + 1);
  }

  /** The key as etcd has it: ours (by lease) → leader, another's → follower, none → campaign. */
  #observe(kv: KeyValue | undefined, leaseId: string | undefined): void {
    if (kv !== undefined && leaseId !== undefined && kv.lease === leaseId) return this.#adopt(kv);
    if (this.#token !== undefined) this.#stepDown(kv === undefined ? 'leader key deleted' : `leader key now held by ${kv.value}`);
    this.#setLeader(kv?.value);
    if (kv === undefined) this.#kick();
  }

  #adopt(kv: KeyValue): void {
    if (!this.#opts.lease.isValid()) return this.#stepDown('lease expired before the campaign answered');
    this.#setLeader(kv.value);
    if (this.#token === kv.createRevision) return;
    this.#token = kv.createRevision;
    this.emit('elected', kv.createRevision);
  }

  #stepDown(reason: string): void {
    if (this.#token === undefined) return;
    this.#token = undefined;
    this.emit('stepped_down', reason);
  }

  #setLeader(id: string | undefined): void {
    if (id === this.#leaderId) return;
    this.#leaderId = id;
    this.emit('leader_changed', id);
  }

  #ensureWatch(fromRevision: number): void {
    if (this.#watch !== undefined || this.#closed) return;
    this.#watch = this.#opts.client.watchPrefix(this.key, fromRevision, {
      onEvents: (events) => this.#onEvents(events),
      onError: (err) => {
        // Cancelled by etcd (compacted): drop it; the next round re-reads and watches anew.
        this.emit('etcd_error', err);
        const dead = this.#watch;
        this.#watch = undefined;
        void dead?.cancel();
        this.#kick();
      },
    });
  }

  #onEvents(events: WatchEvent[]): void {
    for (const ev of events) {
      if (ev.kv.key !== this.key) continue;
      this.#observe(ev.type === 'delete' ? undefined : ev.kv, this.#opts.lease.id);
    }
  }
}
