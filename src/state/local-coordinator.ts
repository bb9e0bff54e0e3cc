/**
 * The embedded coordinator: one drproxy process, state in the local store (the file store by
 * default). This process decides alone, commits are the store's epoch-guarded writes, and its one
 * data plane reads the route the moment it is published, so every stage is acknowledged at once.
 */
import type { AckStage, Coordinator, StateChange, Acknowledgement } from './coordinator.js';
import type { StateStore, TenantState } from './types.js';

export class LocalCoordinator implements Coordinator {
  readonly kind = 'local';

  constructor(
    private readonly store: StateStore,
    /** The control plane's wall clock, for `updated_at`. */
    private readonly now: () => number = Date.now,
  ) {}

  load(tenant: string): Promise<TenantState | undefined> {
    return this.store.load(tenant);
  }

  async commit(tenant: string, change: StateChange, expectedEpoch: number | undefined): Promise<TenantState> {
    const next: TenantState = { tenant, ...change, updated_at: new Date(this.now()).toISOString() };
    for (const k of ['from', 'to', 'frozen_cause'] as const) if (next[k] === undefined) delete next[k];
    await this.store.commit(next, expectedEpoch);
    return next;
  }

  acknowledge(_tenant: string, _epoch: number, _stage: AckStage): void {}

  acknowledged(_tenant: string, _epoch: number, _stage: AckStage): Acknowledgement {
    return undefined;
  }

  serving(): boolean {
    return true;
  }

  onStatus(_listener: () => void): () => void {
    return () => {};
  }

  /** Nothing is committed elsewhere: this process is the only one. */
  watch(_tenant: string, _listener: (state: TenantState) => void): () => void {
    return () => {};
  }

  mayDecide(): boolean {
    return true;
  }
}
