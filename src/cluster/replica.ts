/**
 * Everything one drproxy replica runs in clustered mode (`state.etcd`), built in one place for
 * the composition root: the etcd client, its lease keeper and election, the coordinator every
 * tenant controller uses, operator actions forwarded to the leader (proposals.ts), and the
 * cluster's metrics, and the health votes (health-votes.ts) written under the coordinator's
 * session lease. drproxy.ts only starts it, hands `coordinator` and `votes` to the controllers
 * and `forward` to their operator actions, and shows `status()`.
 */
import type { Registry } from 'prom-client';
import { DrProxyError } from '../errors.js';
import type { EtcdConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { ClusterMetrics } from '../metrics/cluster.js';
import { EtcdClient } from './etcd.js';
import { EtcdCoordinator, type ClusterStatus } from './etcd-coordinator.js';
import { HealthVotes } from './health-votes.js';
import { ClusterVoteBoard } from './vote-board.js';
import { LeaderElection } from './leader.js';
import { LeaseKeeper } from './lease.js';
import { Proposals, type ProposalAction, type ProposalHandler } from './proposals.js';
import { EtcdDrillStore } from './drill-store.js';
import { EtcdKillSwitch } from './kill-switch-store.js';
import { EtcdApprovalStore } from './approval-store.js';
import type { Approval } from '../admin/approvals.js';

export interface ClusterReplicaOptions {
  config: EtcdConfig;
  log: Logger;
  registry: Registry;
  now?: () => number;
  version?: string;
}

/** Told when this replica starts or stops leading, with its id and the leader before it (when known). */
export type LeadingListener = (leading: boolean, who: { replica: string; previous?: string }) => void;

/** How long a follower waits for the leader to carry out an operator action. */
const FORWARD_TIMEOUT_MS = 120_000;

export class ClusterReplica {
  readonly coordinator: EtcdCoordinator;
  /** Health by quorum: this replica's votes and its peers', per tenant (failover/quorum-view.ts). */
  readonly votes: ClusterVoteBoard;
  /** Drill reports shared by every replica (drill-store.ts); written only while this replica leads. */
  readonly drillStore: EtcdDrillStore;
  /** The kill switch of automatic flips, shared by every replica (kill-switch-store.ts); ProxySafety loads and watches it. */
  readonly killSwitch: EtcdKillSwitch;
  readonly #healthVotes: HealthVotes;
  readonly #client: EtcdClient;
  readonly #lease: LeaseKeeper;
  readonly #election: LeaderElection;
  readonly #proposals: Proposals;
  readonly #log: Logger;
  readonly #config: EtcdConfig;
  #leading = false;
  readonly #leadingListeners = new Set<LeadingListener>();
  /** The last leader seen other than the current one (leader_changed notifications). */
  #previousLeader: string | undefined;
  #currentLeader: string | undefined;

  constructor(o: ClusterReplicaOptions) {
    const c = (this.#config = o.config);
    this.#log = o.log.child({ replica: c.replica_id });
    let metrics: ClusterMetrics | undefined;
    this.#client = new EtcdClient({
      endpoints: c.endpoints,
      requestTimeout: c.request_timeout,
      dialTimeout: c.dial_timeout,
      observe: (op, seconds, ok) => metrics?.etcdRequest(op, seconds, ok),
    });
    this.#lease = new LeaseKeeper({ client: this.#client, ttl: c.lease_ttl });
    this.#election = new LeaderElection({ client: this.#client, lease: this.#lease, prefix: c.prefix, replicaId: c.replica_id });
    this.coordinator = new EtcdCoordinator({
      client: this.#client,
      lease: this.#lease,
      election: this.#election,
      config: c,
      replicaId: c.replica_id,
      log: this.#log,
      ...(o.now && { now: o.now }),
      ...(o.version !== undefined && { version: o.version }),
      ownsClient: true,
      onAcknowledged: (stage, seconds) => metrics?.acknowledged(stage, seconds),
    });
    const coordinator = this.coordinator;
    this.drillStore = new EtcdDrillStore({
      client: this.#client,
      prefix: c.prefix,
      guard: () => {
        if (!coordinator.mayDecide()) throw new DrProxyError('DRP_NOT_LEADER', `replica ${c.replica_id} is not the leader: it does not write drill reports`);
        return this.#election.guard();
      },
    });
    this.killSwitch = new EtcdKillSwitch({ client: this.#client, prefix: c.prefix, log: this.#log });
    // Votes go under the lease the replica is registered with (useLease on every status change).
    this.#healthVotes = new HealthVotes({ client: this.#client, prefix: c.prefix, replicaId: c.replica_id });
    this.#healthVotes.on('etcd_error', (err) => this.#log.debug({ err }, 'health votes: etcd error (retrying)'));
    this.votes = new ClusterVoteBoard(this.#healthVotes, c.quorum, () => coordinator.liveReplicas());
    let live = 0;
    coordinator.onReplicas(() => {
      if (live !== (live = coordinator.liveReplicas())) this.votes.liveChanged();
    });
    metrics = new ClusterMetrics(o.registry, {
      isLeader: () => coordinator.mayDecide(),
      replicaCount: () => coordinator.status().replicas.length,
      leaseValid: () => this.#lease.isValid(),
      serving: () => coordinator.serving(),
    });
    this.#election.on('leader_changed', (id) => {
      metrics?.leaderChanged();
      if (id !== undefined && id !== this.#currentLeader) {
        if (this.#currentLeader !== undefined) this.#previousLeader = this.#currentLeader;
        this.#currentLeader = id;
      }
      this.#log.warn({ event: 'leader_changed', leader: id ?? null }, id === undefined ? 'the cluster has no leader' : `leader: replica ${id}`);
    });
    this.#proposals = new Proposals({
      client: this.#client,
      prefix: c.prefix,
      replicaId: c.replica_id,
      lease: () => this.#lease.id,
      guard: () => this.#election.guard(),
      timeoutMs: FORWARD_TIMEOUT_MS,
    });
  }

  /**
   * Connect (waits at most `waitMs` for the first session; the replica keeps trying after that
   * and serves once it has one) and carry out forwarded operator actions with `handler` while
   * this replica leads.
   */
  async start(handler: ProposalHandler, waitMs: number): Promise<void> {
    const started = this.coordinator.start();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
    const first = await Promise.race([started.then(() => 'ok' as const), late]).finally(() => clearTimeout(timer));
    if (first === 'late') this.#log.error({ alert: true, endpoints: this.#config.endpoints }, `etcd did not answer within ${waitMs} ms: starting without it (no tenant is served until it does, under fail_closed)`);
    started.catch(() => undefined);
    const { revision } = await this.#client.getPrefix(`${this.#config.prefix}/ops/`).catch(() => ({ revision: 0 }));
    this.#proposals.start(revision + 1, handler);
    void this.#healthVotes.start();
    this.coordinator.onStatus(() => this.#statusChanged());
    this.#statusChanged();
  }

  /** Carry out an operator action on the leader (this replica is a follower). */
  forward(tenant: string, action: ProposalAction, op: Record<string, unknown>): Promise<unknown> {
    // Fail fast rather than wait for an answer nobody will give.
    if (this.coordinator.status().leader === undefined) {
      return Promise.reject(new DrProxyError('DRP_NOT_LEADER', `the cluster has no leader right now (this replica: ${this.#config.replica_id}): try again in a moment`));
    }
    return this.#proposals.propose(tenant, action, op);
  }

  /** Two-person approval requests shared by every replica (approval-store.ts); any replica decides. */
  approvalStore(onExpire: (a: Approval) => void): EtcdApprovalStore {
    return new EtcdApprovalStore({ client: this.#client, prefix: this.#config.prefix, onExpire });
  }

  /** Told when this replica starts (true) or stops (false) leading: drills are run and recovered by the leader (cluster/drills.ts). */
  onLeading(listener: LeadingListener): () => void {
    this.#leadingListeners.add(listener);
    return () => void this.#leadingListeners.delete(listener);
  }

  status(): ClusterStatus & { lease_valid: boolean } {
    return { ...this.coordinator.status(), lease_valid: this.#lease.isValid() };
  }

  /** The cluster as this replica sees it, for GET /status and `drproxy status`. */
  statusJson(tenants: Iterable<string>): unknown {
    const c = this.status();
    return {
      replica: c.replicaId,
      leader: c.leader ?? null,
      leading: c.isLeader,
      serving: c.serving,
      lease_valid: c.lease_valid,
      replicas: c.replicas.map((r) => ({ id: r.id, acknowledged: r.acks })),
      votes: this.votes.status(tenants, c.replicaId),
    };
  }

  async close(): Promise<void> {
    await this.killSwitch.close();
    await this.#healthVotes.close();
    await this.#proposals.close();
    await this.coordinator.close();
  }

  #statusChanged(): void {
    // A new session lease holds none of our votes: they are written again under it.
    this.#healthVotes.useLease(this.coordinator.sessionLease);
    const leading = this.coordinator.mayDecide();
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#proposals.leading(leading).catch((err: unknown) => this.#log.error({ err }, 'could not read the pending operator actions'));
    // A new leader reads the kill switch again (its watch may have been behind a reconnect).
    if (leading) void this.killSwitch.refresh();
    const me = this.#config.replica_id;
    // Whichever of the election's events came first, the leader before us is the last other one seen.
    const previous = this.#currentLeader !== me ? this.#currentLeader : this.#previousLeader;
    const who = { replica: me, ...(previous !== undefined && previous !== me && { previous }) };
    for (const listener of [...this.#leadingListeners]) {
      try {
        listener(leading, who);
      } catch (err) {
        this.#log.error({ err }, 'a leadership listener threw');
      }
    }
  }
}
