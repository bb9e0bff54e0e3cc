/**
 * The Coordinator on etcd (docs/design.md, "Clustered mode: the coordinator on etcd"). Each
 * replica registers `P/replicas/<id>` under its lease, campaigns for `P/leader`, reads every
 * tenant's record at one revision and watches from the next. Only the leader commits, each
 * commit guarded in etcd by the leader key's create revision and the tenant's mod revision;
 * every replica acknowledges the stages it reaches under its lease, and the leader waits for
 * the acks of every live replica. A replica that loses etcd keeps trying (back-off, new lease,
 * re-register, re-read, re-watch) and, under `coordinator_loss: fail_closed`, stops serving
 * once its lease TTL has passed since its last good keepalive.
 */
import { DrProxyError } from '../errors.js';
import type { EtcdConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { AckStage, Acknowledgement, Coordinator, StateChange } from '../state/coordinator.js';
import type { TenantState } from '../state/types.js';
import { AckBook, type AckRecord, covers } from './acks.js';
import { AckWriter } from './ack-writer.js';
import { TurnBatcher } from './batcher.js';
import { ClusterView } from './cluster-view.js';
import { type PendingCommit, runCommits } from './commit-batch.js';
import { EtcdClient, type Compare } from './etcd.js';
import { checkReplicaId, clusterKeys, type ClusterKeys } from './keys.js';
import { LeaderElection } from './leader.js';
import { LeaseKeeper, monotonicNow, type MonotonicClock } from './lease.js';
import { TenantCache } from './tenant-cache.js';

export interface EtcdCoordinatorOptions {
  client: EtcdClient;
  /** The replica's lease keeper (its TTL is `config.lease_ttl`). */
  lease: LeaseKeeper;
  /** The election on the same client and lease. */
  election: LeaderElection;
  config: EtcdConfig;
  replicaId: string;
  log: Logger;
  /** Wall clock, for `updated_at` and the acks' `at`. */
  now?: () => number;
  /** Monotonic clock of the serving deadline (the lease keeper's). */
  clock?: MonotonicClock;
  /** drproxy's version, written in the replica's registration. */
  version?: string;
  /** Reconnect back-off, ms: doubles from `min` to `max`. Default 100 → 2000. */
  backoff?: { min: number; max: number };
  /** Close the client on close() (when the coordinator's factory built it). */
  ownsClient?: boolean;
  /** Told how long every live replica took to acknowledge a stage the leader waited for (metrics). */
  onAcknowledged?: (stage: AckStage, seconds: number) => void;
}

/** How many etcd transactions carried commits and acks (batching is measured by these). */
export interface CoordinatorStats {
  commitTxns: number;
  commits: number;
  ackTxns: number;
  acks: number;
}

export interface ClusterStatus {
  replicaId: string;
  leader: string | undefined;
  isLeader: boolean;
  serving: boolean;
  replicas: Array<{ id: string; acks: Record<string, AckRecord> }>;
}

export class EtcdCoordinator implements Coordinator {
  readonly kind = 'etcd';
  readonly replicaId: string;
  readonly stats: CoordinatorStats = { commitTxns: 0, commits: 0, ackTxns: 0, acks: 0 };
  readonly #o: EtcdCoordinatorOptions;
  readonly #keys: ClusterKeys;
  readonly #now: () => number;
  readonly #clock: MonotonicClock;
  readonly #cache: TenantCache;
  readonly #book: AckBook;
  readonly #view: ClusterView;
  readonly #writer: AckWriter;
  readonly #commits: TurnBatcher<PendingCommit>;
  /** This replica's latest ack per tenant (re-written under each new lease). */
  readonly #mine = new Map<string, AckRecord>();
  readonly #statusListeners = new Set<() => void>();
  readonly #replicaListeners = new Set<() => void>();
  readonly #startedAt: string;
  /** The lease our registration and acks are under, once the view was read with it. */
  #syncedLease: string | undefined;
  #everSynced = false;
  #servingLost = false;
  /** Monotonic send time of the last keepalive that succeeded. */
  #lastGoodSend = -Infinity;
  #lossTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #delay: number;
  #electionStarted = false;
  #closed = false;
  #firstSync: { resolve(): void; reject(err: Error): void } | undefined;

  constructor(options: EtcdCoordinatorOptions) {
    this.#o = options;
    this.replicaId = checkReplicaId(options.replicaId);
    this.#keys = clusterKeys(options.config.prefix);
    this.#now = options.now ?? Date.now;
    this.#clock = options.clock ?? monotonicNow;
    this.#delay = this.#backoff.min;
    this.#startedAt = new Date(this.#now()).toISOString();
    const log = options.log;
    this.#cache = new TenantCache((err, tenant) => log.error({ err, tenant }, 'a tenant state listener threw'));
    this.#book = new AckBook(this.replicaId, (t) => this.#mine.get(t));
    this.#view = new ClusterView({
      client: options.client,
      keys: this.#keys,
      cache: this.#cache,
      book: this.#book,
      onLost: (err) => {
        log.warn({ err }, 'etcd cancelled a watch (compacted?): reading the cluster state again');
        this.#syncedLease = undefined;
        this.#sync();
      },
      onDisconnected: (err) => log.debug({ err }, 'etcd watch disconnected; resuming after the last revision seen'),
      onReplicas: () => this.#emit(this.#replicaListeners),
    });
    this.#writer = new AckWriter({
      client: options.client,
      key: (t) => this.#keys.ack(this.replicaId, t),
      leaseId: () => this.sessionLease,
      onTxn: (n) => {
        this.stats.ackTxns++;
        this.stats.acks += n;
      },
      onError: (err) => log.debug({ err }, 'writing acknowledgements to etcd failed; retrying'),
    });
    this.#commits = new TurnBatcher((items) => {
      runCommits(this.#commitDeps(), items).catch((err: unknown) => log.error({ err }, 'commit batch failed unexpectedly'));
    });
    this.#listen();
  }

  get #backoff(): { min: number; max: number } {
    return this.#o.backoff ?? { min: 100, max: 2000 };
  }

  /**
   * Grants the lease, registers, reads the cluster and starts the election; resolves once that
   * is done (retrying with back-off while etcd is unreachable), rejects only if closed first.
   */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => (this.#firstSync = { resolve, reject }));
    this.#sync();
    return first;
  }

  /** Resigns (revokes the lease: the leader, registration and ack keys go) and stops watching. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#lossTimer);
    clearTimeout(this.#retryTimer);
    this.#writer.close();
    this.#view.close();
    const closed = new DrProxyError('DRP_NOT_LEADER', `replica ${this.replicaId}: the coordinator was closed`);
    this.#book.rejectAll(closed);
    this.#firstSync?.reject(closed);
    await this.#o.election.close();
    if (this.#o.ownsClient === true) this.#o.client.close();
  }

  load(tenant: string): Promise<TenantState | undefined> {
    try {
      return Promise.resolve(this.#cache.load(tenant));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  async commit(tenant: string, change: StateChange, expectedEpoch: number | undefined): Promise<TenantState> {
    if (!this.mayDecide()) throw new DrProxyError('DRP_NOT_LEADER', `tenant ${tenant}: replica ${this.replicaId} is not the leader (leader: ${this.#o.election.leaderId ?? 'none'})`);
    if (change.epoch < (expectedEpoch ?? 0)) {
      throw new DrProxyError('DRP_STATE_EPOCH_REGRESSION', `tenant ${tenant}: epoch ${change.epoch} is below the expected epoch ${expectedEpoch}`);
    }
    const compare = this.#tenantClause(tenant, expectedEpoch);
    const next: TenantState = { tenant, ...change, updated_at: new Date(this.#now()).toISOString() };
    for (const k of ['from', 'to', 'frozen_cause'] as const) if (next[k] === undefined) delete next[k];
    const value = JSON.stringify(next);
    const key = this.#keys.tenant(tenant);
    this.#cache.markOwn(tenant, value);
    const revision = await new Promise<number>((resolve, reject) => this.#commits.add({ tenant, key, value, compare, resolve, reject }));
    this.#cache.apply(tenant, value, revision, true);
    return next;
  }

  /** The tenant's clause for etcd: its mod revision as cached for `expected`, or no record yet. */
  #tenantClause(tenant: string, expected: number | undefined): Compare {
    const key = this.#keys.tenant(tenant);
    const cached = this.#cache.get(tenant);
    if (expected === undefined) {
      if (cached !== undefined) throw new DrProxyError('DRP_STATE_CONFLICT', `tenant ${tenant}: expected no state, but it has a record in etcd`);
      return { key, target: 'create', value: 0 };
    }
    const state = this.#cache.load(tenant);
    if (state === undefined || state.epoch !== expected || cached === undefined) {
      throw new DrProxyError('DRP_STATE_CONFLICT', `tenant ${tenant}: expected epoch ${expected}, but the committed epoch is ${state?.epoch ?? 'none'}`);
    }
    return { key, target: 'mod', value: cached.modRevision };
  }

  #commitDeps(): Parameters<typeof runCommits>[0] {
    return {
      client: this.#o.client,
      guard: () => {
        if (!this.mayDecide()) throw new DrProxyError('DRP_NOT_LEADER', `replica ${this.replicaId} is not the leader`);
        return this.#o.election.guard();
      },
      onTxn: (n) => {
        this.stats.commitTxns++;
        this.stats.commits += n;
      },
      onStale: (tenant, kv) => void this.#cache.apply(tenant, kv.value, kv.modRevision),
    };
  }

  acknowledge(tenant: string, epoch: number, stage: AckStage): void {
    if (this.#closed || covers(this.#mine.get(tenant), epoch, stage)) return;
    const ack: AckRecord = { epoch, stage, at: new Date(this.#now()).toISOString() };
    this.#mine.set(tenant, ack);
    this.#writer.write(tenant, ack);
    this.#book.settle(tenant);
  }

  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement {
    if (!this.mayDecide()) {
      return Promise.reject(new DrProxyError('DRP_NOT_LEADER', `tenant ${tenant}: replica ${this.replicaId} is not the leader: it cannot wait for acknowledgements`));
    }
    if (this.#book.satisfied(tenant, epoch, stage)) return undefined;
    const wait = this.#book.wait(tenant, epoch, stage);
    const report = this.#o.onAcknowledged;
    if (report === undefined) return wait;
    const t0 = performance.now();
    return wait.then(() => report(stage, (performance.now() - t0) / 1000));
  }

  /** The lease this replica's keys are under (registered and synced), undefined while it has none. */
  get sessionLease(): string | undefined {
    return this.#syncedLease !== undefined && this.#o.lease.id === this.#syncedLease ? this.#syncedLease : undefined;
  }

  /** Live replicas (registered under `P/replicas/`), as last seen: what a majority quorum counts. */
  liveReplicas(): number {
    return this.#book.live().length;
  }

  /** Called when the live replicas may have changed (a majority quorum with them). */
  onReplicas(listener: () => void): () => void {
    this.#replicaListeners.add(listener);
    return () => void this.#replicaListeners.delete(listener);
  }

  serving(): boolean {
    if (this.#o.config.coordinator_loss === 'fail_static') return true;
    return this.#everSynced && !this.#servingLost && !this.#closed;
  }

  mayDecide(): boolean {
    return !this.#closed && this.#syncedLease !== undefined && this.#o.election.isLeader() && this.#o.lease.id === this.#syncedLease;
  }

  onStatus(listener: () => void): () => void {
    this.#statusListeners.add(listener);
    return () => void this.#statusListeners.delete(listener);
  }

  watch(tenant: string, listener: (state: TenantState) => void): () => void {
    return this.#cache.watch(tenant, listener);
  }

  /** The cluster as this replica sees it: live replicas, leader, each replica's acks. */
  status(): ClusterStatus {
    const replicas = this.#book.live().sort().map((id) => ({ id, acks: Object.fromEntries(id === this.replicaId ? this.#mine : this.#book.acksOf(id)) }));
    return { replicaId: this.replicaId, leader: this.#o.election.leaderId, isLeader: this.mayDecide(), serving: this.serving(), replicas };
  }

  #emitStatus(): void {
    this.#emit(this.#statusListeners);
  }

  #emit(listeners: ReadonlySet<() => void>): void {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (err) {
        this.#o.log.error({ err }, 'a coordinator status listener threw');
      }
    }
  }

  #listen(): void {
    const { lease, election, log } = this.#o;
    lease.on('renewed', (deadline) => (this.#lastGoodSend = deadline - lease.ttl + lease.margin));
    lease.on('lost', (reason) => {
      if (this.#closed) return;
      log.warn({ err: reason }, 'etcd lease lost: not deciding; reconnecting');
      this.#syncedLease = undefined;
      this.#armServingDeadline();
      this.#emitStatus();
      this.#sync();
    });
    election.on('elected', (token) => {
      log.info({ token }, 'elected leader');
      this.#emitStatus();
    });
    election.on('stepped_down', (reason) => {
      log.warn({ reason }, 'stepped down as leader');
      this.#book.rejectAll(new DrProxyError('DRP_NOT_LEADER', `replica ${this.replicaId} stopped being the leader (${reason})`));
      this.#emitStatus();
    });
    election.on('etcd_error', (err) => log.debug({ err }, 'leader election: etcd error (retrying)'));
  }

  /** fail_closed: serving ends lease_ttl after the send time of the last good keepalive. */
  #armServingDeadline(): void {
    if (this.#o.config.coordinator_loss !== 'fail_closed') return;
    clearTimeout(this.#lossTimer);
    const end = this.#lastGoodSend + this.#o.lease.ttl;
    const check = (): void => {
      if (this.#closed || this.#syncedLease !== undefined) return;
      const left = end - this.#clock();
      if (left > 0) {
        this.#lossTimer = setTimeout(check, left);
        return;
      }
      this.#servingLost = true;
      this.#o.log.error('etcd unreachable for longer than the lease TTL: not serving (coordinator_loss: fail_closed)');
      this.#emitStatus();
    };
    check();
  }

  /** Runs one (re)synchronisation; a request during one runs another afterwards. */
  #sync(): void {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    if (this.#syncing !== undefined) {
      void this.#syncing.then(() => (this.#syncedLease === undefined ? this.#sync() : undefined));
      return;
    }
    this.#syncing = this.#syncOnce()
      .then(() => {
        this.#delay = this.#backoff.min;
      })
      .catch((err: unknown) => {
        if (this.#closed) return;
        this.#o.log.warn({ err, retry_ms: this.#delay }, 'cannot reach etcd: retrying');
        this.#retryTimer = setTimeout(() => this.#sync(), this.#delay);
        this.#delay = Math.min(this.#delay * 2, this.#backoff.max);
      })
      .finally(() => {
        this.#syncing = undefined;
      });
  }

  /** New lease if needed → register → read at one revision → watch → election. */
  async #syncOnce(): Promise<void> {
    const { client, lease, election } = this.#o;
    const leaseId = lease.id ?? (await lease.start());
    const registration = JSON.stringify({ id: this.replicaId, started_at: this.#startedAt, version: this.#o.version ?? '' });
    await client.txn([], [{ put: this.#keys.replica(this.replicaId), value: registration, lease: leaseId }]);
    const revision = await this.#view.read();
    if (this.#closed) return;
    if (lease.id !== leaseId) throw new DrProxyError('DRP_ETCD_LEASE_LOST', `lease ${leaseId} was lost while registering`);
    const again = this.#everSynced;
    this.#syncedLease = leaseId;
    this.#everSynced = true;
    this.#servingLost = false;
    clearTimeout(this.#lossTimer);
    // The old lease took our acks with it: write the latest ones again under the new lease.
    for (const [t, ack] of this.#mine) this.#writer.write(t, ack);
    this.#writer.flushSoon();
    if (!this.#electionStarted) {
      this.#electionStarted = true;
      election.start();
    }
    this.#o.log.info({ revision, lease: leaseId, replicas: this.#book.live().length }, again ? 'reconnected to etcd: registered again, state re-read' : 'joined the cluster');
    this.#firstSync?.resolve();
    this.#firstSync = undefined;
    this.#emitStatus();
  }
}

/** Builds the client, lease keeper and election for `config`, and the coordinator over them. */
export function createEtcdCoordinator(o: { config: EtcdConfig; replicaId: string; log: Logger; now?: () => number; version?: string; client?: EtcdClient; onAcknowledged?: EtcdCoordinatorOptions['onAcknowledged'] }): EtcdCoordinator {
  const client = o.client ?? new EtcdClient({ endpoints: o.config.endpoints, requestTimeout: o.config.request_timeout, dialTimeout: o.config.dial_timeout });
  const lease = new LeaseKeeper({ client, ttl: o.config.lease_ttl });
  const election = new LeaderElection({ client, lease, prefix: o.config.prefix, replicaId: o.replicaId });
  return new EtcdCoordinator({ ...o, client, lease, election, ownsClient: true });
}
