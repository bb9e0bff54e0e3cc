/**
 * What the control plane asks of the place where tenant state is decided and shared. Embedded
 * mode: one process over the local state store (local-coordinator.ts). Clustered mode: etcd, where
 * only the elected leader commits, each commit guarded by the tenant's expected epoch, and every
 * replica's data plane acknowledges the routes it applies (design.md, "Clustered mode").
 *
 * The controller and its flip runner reach state only through this contract, never through a
 * StateStore: a flip is "commit the intent at epoch+1 → hold and drain (acknowledged) → hooks →
 * commit the new active site → route (acknowledged)".
 */
import type { TenantState } from './types.js';
import type { DrainResult } from '../failover/drain.js';

/** A state to commit: the coordinator stamps the tenant's name and the time of the commit. */
export type StateChange = Omit<TenantState, 'tenant' | 'updated_at'>;

/**
 * Settles once every replica serving the tenant has acknowledged a stage of an epoch; undefined
 * when that is already so (one process: nothing to wait for, not even a turn).
 */
export type Acknowledgement<T = void> = Promise<T> | undefined;

/** How far a replica got with an epoch (Coordinator.acknowledge). */
export type AckStage = 'drained' | 'routed';

export interface Coordinator {
  readonly kind: 'local' | 'etcd';
  /** The tenant's committed state, or undefined when it has none yet. A damaged record throws. */
  load(tenant: string): Promise<TenantState | undefined>;
  /**
   * Commit `change` as the tenant's state if, and only if, its committed epoch is still
   * `expectedEpoch` (undefined: it has no state yet); resolves with the committed state once it
   * is durable (clustered: committed in etcd), rejects when the guard fails or the commit cannot
   * be made. Every transition goes through here: the intent at epoch+1 (phase failing_over), the
   * new active site, freeze and unfreeze, fence and unfence. `change.epoch` never goes down.
   */
  commit(tenant: string, change: StateChange, expectedEpoch: number | undefined): Promise<TenantState>;
  /**
   * This replica's data plane reached `stage` of the tenant's `epoch`: `drained` = it holds new
   * requests and has drained the old site (flip steps 2-3); `routed` = it routes the committed
   * active site. Fire and forget: clustered, acknowledgements of many tenants are batched.
   */
  acknowledge(tenant: string, epoch: number, stage: AckStage): void;
  /**
   * Settles once every live replica has acknowledged `stage` of `epoch` (or any later epoch) for
   * the tenant; a replica whose lease expires is no longer waited for. Undefined when there is
   * nothing to wait for (one process). Rejects only when this process loses the right to wait
   * (clustered: it stopped being the leader). A `drained` wait may resolve with the summed counts
   * of drains this process ran elsewhere (data-plane worker threads): the flip records those.
   */
  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement<DrainResult | void>;
  /**
   * The summed counts of this process's own data planes' drains of `epoch` (worker threads),
   * once each acknowledged it; absent or undefined when the calling thread drained them itself.
   * A follower's drain line reports these, as the leader's flip does.
   */
  localDrain?(tenant: string, epoch: number): Promise<DrainResult | void> | undefined;
  /**
   * False once this replica may no longer route the tenant's traffic: clustered, it lost etcd for
   * longer than its lease under `coordinator_loss: fail_closed`. Always true locally.
   */
  serving(): boolean;
  /** Called whenever mayDecide() or serving() may have changed (leadership, etcd lost or back). */
  onStatus(listener: () => void): () => void;
  /** Calls `listener` with each state of `tenant` committed elsewhere (never for this process's own commits). */
  watch(tenant: string, listener: (state: TenantState) => void): () => void;
  /** Whether this process may decide and commit flips now: always locally; clustered, only the leader. */
  mayDecide(): boolean;
}
