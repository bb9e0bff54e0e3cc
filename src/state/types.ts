/**
 * The persisted state of one tenant. The epoch is the fencing token: it only ever grows, it is
 * persisted before any routing change, and it is stamped on every upstream request.
 */
export type TenantPhase = 'active' | 'failing_over' | 'frozen';

export interface TenantState {
  tenant: string;
  epoch: number;
  phase: TenantPhase;
  /** The site that takes (or last took) the tenant's traffic. */
  active: string;
  /** Set while phase is failing_over: the flip in progress. */
  from?: string;
  to?: string;
  /** Sites that lost traffic and must not get any until unfenced or failed back to. */
  fenced: string[];
  /**
   * Why the tenant is frozen: `no_site` (nothing available: recovers on its own when a site
   * returns), `fence_failed` or `promote_failed` (a required hook failed: an operator decides),
   * `state_lost` (its state file was missing or older than the state manifest's record of its
   * last commit: an operator decides), `drill_interrupted` (drproxy stopped in the middle of a
   * drill and drills.on_interrupt is `freeze`: an operator decides).
   */
  frozen_cause?: 'no_site' | 'fence_failed' | 'promote_failed' | 'state_lost' | 'drill_interrupted';
  /** Why the last change was made. */
  reason: string;
  /** What made the last change: health, admin, failback, startup, recovery. */
  trigger: string;
  updated_at: string;
}

/**
 * Where tenant state lives. The embedded default is a directory of files; the clustered store
 * (etcd) implements the same contract.
 */
export interface StateStore {
  readonly kind: 'file' | 'etcd';
  /** Prepare the store (create the directory, take the lock). */
  open(): Promise<void>;
  /** The stored state of a tenant, or undefined when it has none yet. Corrupt state throws. */
  load(tenant: string): Promise<TenantState | undefined>;
  /**
   * Write `next` if, and only if, the stored epoch is still `expectedEpoch` (undefined: the
   * tenant has no state yet). `next.epoch` may never be lower than an epoch seen before.
   * Resolves once the state is durable.
   */
  commit(next: TenantState, expectedEpoch: number | undefined): Promise<void>;
  /** Called with every state committed (by this process or, for shared stores, by others). */
  watch(listener: (state: TenantState) => void): () => void;
  close(): Promise<void>;
}
