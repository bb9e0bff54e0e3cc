/**
 * An in-process stand-in for the etcd coordinator, shared by two or three replicas (controllers
 * or whole DrProxy instances) in one test process. It implements the same Coordinator contract:
 * one epoch-guarded record per tenant that only the replica holding the leader flag may commit
 * (others get DRP_NOT_LEADER, a stale epoch DRP_STATE_CONFLICT); commits reach every other
 * replica's watch on a later turn (as etcd's watch does, never the committer's own); each
 * replica's acknowledgements are recorded, and `acknowledged` settles once every registered
 * replica has acknowledged the stage (or a later epoch), or once the waiting replica stops
 * leading (rejects). The test flips the leader flag and each replica's serving() at will.
 */
import { DrProxyError } from '../../src/errors.js';
import type { AckStage, Coordinator, StateChange } from '../../src/state/coordinator.js';
import type { TenantState } from '../../src/state/types.js';

export interface AckRecord {
  replica: string;
  tenant: string;
  epoch: number;
  stage: AckStage;
  at: number;
}

export interface CommitRecord {
  replica: string;
  state: TenantState;
  /** Refused commits are recorded too: a follower must not even try. */
  refused?: string;
  /** When it was made (Date.now). */
  at: number;
}

interface Waiter {
  replica: SharedReplica;
  tenant: string;
  epoch: number;
  stage: AckStage;
  resolve(): void;
  reject(err: Error): void;
}

function reached(ack: { epoch: number; stage: AckStage } | undefined, epoch: number, stage: AckStage): boolean {
  if (ack === undefined) return false;
  return ack.epoch > epoch || (ack.epoch === epoch && (stage === 'drained' || ack.stage === 'routed'));
}

export class SharedCoordinator {
  readonly states = new Map<string, TenantState>();
  readonly replicas = new Map<string, SharedReplica>();
  readonly commits: CommitRecord[] = [];
  readonly acks: AckRecord[] = [];
  private leaderId: string | undefined;
  private waiters: Waiter[] = [];

  /** A replica's view of the shared store (registered: its acknowledgements are waited for). */
  replica(id: string): SharedReplica {
    const r = new SharedReplica(id, this);
    this.replicas.set(id, r);
    return r;
  }

  get leader(): string | undefined {
    return this.leaderId;
  }

  /** Give the leader flag to `id` (undefined: no leader); every replica hears onStatus. */
  setLeader(id: string | undefined): void {
    this.leaderId = id;
    for (const w of this.waiters.filter((x) => x.replica.id !== id)) w.reject(new DrProxyError('DRP_NOT_LEADER', `${w.replica.id} is no longer the leader`));
    this.waiters = this.waiters.filter((x) => x.replica.id === id);
    for (const r of this.replicas.values()) r.status();
  }

  /** A replica's lease expired: it is no longer waited for (SharedReplica.setServing(true) registers it again). */
  remove(id: string): void {
    this.replicas.delete(id);
    this.settle();
  }

  /** The last acknowledgement of `replica` for `tenant`. */
  ackOf(replica: string, tenant: string): { epoch: number; stage: AckStage } | undefined {
    return this.replicas.get(replica)?.acks.get(tenant);
  }

  commit(from: SharedReplica, tenant: string, change: StateChange, expected: number | undefined, at: number): TenantState {
    const next: TenantState = { tenant, ...change, updated_at: new Date(at).toISOString() };
    for (const k of ['from', 'to', 'frozen_cause'] as const) if (next[k] === undefined) delete next[k];
    const stored = this.states.get(tenant)?.epoch;
    const refused = this.leaderId !== from.id ? `${from.id} is not the leader` : stored !== expected ? `expected epoch ${expected}, stored ${stored}` : undefined;
    this.commits.push({ replica: from.id, state: next, at: Date.now(), ...(refused && { refused }) });
    if (refused) throw new DrProxyError(this.leaderId !== from.id ? 'DRP_NOT_LEADER' : 'DRP_STATE_CONFLICT', `commit refused: ${refused}`);
    this.states.set(tenant, next);
    for (const r of this.replicas.values()) if (r !== from) r.deliver(next);
    return next;
  }

  acknowledge(from: SharedReplica, tenant: string, epoch: number, stage: AckStage): void {
    if (!from.serving() || !this.replicas.has(from.id)) return; // it cannot reach the store
    const prev = from.acks.get(tenant);
    if (reached(prev, epoch, stage)) return;
    from.acks.set(tenant, { epoch, stage });
    this.acks.push({ replica: from.id, tenant, epoch, stage, at: Date.now() });
    this.settle();
  }

  acknowledged(from: SharedReplica, tenant: string, epoch: number, stage: AckStage): Promise<void> {
    if (this.leaderId !== from.id) return Promise.reject(new DrProxyError('DRP_NOT_LEADER', `${from.id} is not the leader`));
    return new Promise((resolve, reject) => {
      this.waiters.push({ replica: from, tenant, epoch, stage, resolve, reject });
      this.settle();
    });
  }

  private settle(): void {
    const all = [...this.replicas.values()];
    this.waiters = this.waiters.filter((w) => {
      if (!all.every((r) => reached(r.acks.get(w.tenant), w.epoch, w.stage))) return true;
      w.resolve();
      return false;
    });
  }
}

export class SharedReplica implements Coordinator {
  readonly kind = 'etcd' as const;
  readonly acks = new Map<string, { epoch: number; stage: AckStage }>();
  private servingNow = true;
  private readonly statusListeners = new Set<() => void>();
  private readonly watchers = new Map<string, Set<(s: TenantState) => void>>();

  constructor(
    readonly id: string,
    private readonly shared: SharedCoordinator,
  ) {}

  load(tenant: string): Promise<TenantState | undefined> {
    const s = this.shared.states.get(tenant);
    return Promise.resolve(s && structuredClone(s));
  }

  async commit(tenant: string, change: StateChange, expectedEpoch: number | undefined): Promise<TenantState> {
    await undefined; // a round trip, as etcd's
    return structuredClone(this.shared.commit(this, tenant, change, expectedEpoch, Date.now()));
  }

  acknowledge(tenant: string, epoch: number, stage: AckStage): void {
    this.shared.acknowledge(this, tenant, epoch, stage);
  }

  acknowledged(tenant: string, epoch: number, stage: AckStage): Promise<void> {
    return this.shared.acknowledged(this, tenant, epoch, stage);
  }

  serving(): boolean {
    return this.servingNow;
  }

  /**
   * The test: this replica lost (false) or reached again (true) its coordinator. While lost it
   * sees no commit and its acknowledgements are lost; back, it registers again (a new lease:
   * its earlier acknowledgements are gone).
   */
  setServing(serving: boolean): void {
    this.servingNow = serving;
    if (serving && !this.shared.replicas.has(this.id)) {
      this.acks.clear();
      this.shared.replicas.set(this.id, this);
    }
    this.status();
  }

  onStatus(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  status(): void {
    for (const l of [...this.statusListeners]) l();
  }

  watch(tenant: string, listener: (state: TenantState) => void): () => void {
    let set = this.watchers.get(tenant);
    if (!set) this.watchers.set(tenant, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** A state committed by another replica, on a later turn. */
  deliver(s: TenantState): void {
    if (!this.servingNow) return;
    const listeners = [...(this.watchers.get(s.tenant) ?? [])];
    setImmediate(() => listeners.forEach((l) => l(structuredClone(s))));
  }

  mayDecide(): boolean {
    return this.shared.leader === this.id;
  }
}
