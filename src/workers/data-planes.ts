/**
 * One acknowledged-routing protocol for replicas and worker threads (docs/design.md, "Every
 * core: threads"). `DataPlanes` is what serves a process's traffic: inline (`server.workers: 0`)
 * it is the main thread's own DataPlane, which has nothing to acknowledge, and no decorator is
 * put around the coordinator at all (today's code path and timing); threaded, it is the workers
 * (threaded-data-plane.ts). `withDataPlanes` composes it with the Coordinator the flip runner and
 * follower already use, so that neither changes: `acknowledge(t, E, stage)` asks every worker
 * for the stage (`drained`: drain your own calls to the old site) and reaches the real
 * coordinator only once all of them acknowledged; `acknowledged` waits for the workers and for
 * the coordinator's own wait (clustered: every replica, each counting its ack once all of its
 * workers gave theirs).
 */
import type { AckStage, Acknowledgement, Coordinator, StateChange } from '../state/coordinator.js';
import type { TenantState } from '../state/types.js';
import type { DrainResult } from '../failover/drain.js';

export interface DataPlanes {
  /** Ask every data plane for `stage` of `epoch`; the wait for their answers (undefined: none to wait for). */
  acknowledge(tenant: string, epoch: number, stage: AckStage): Acknowledgement;
  /** Settles once every data plane acknowledged `stage` of `epoch` or later (`drained`: with their summed drain counts). */
  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement<DrainResult | void>;
}

export function withDataPlanes(inner: Coordinator, planes: DataPlanes): Coordinator {
  return new PlanesCoordinator(inner, planes);
}

class PlanesCoordinator implements Coordinator {
  constructor(
    private readonly inner: Coordinator,
    private readonly planes: DataPlanes,
  ) {}

  get kind(): Coordinator['kind'] {
    return this.inner.kind;
  }

  load(tenant: string): Promise<TenantState | undefined> {
    return this.inner.load(tenant);
  }

  commit(tenant: string, change: StateChange, expectedEpoch: number | undefined): Promise<TenantState> {
    return this.inner.commit(tenant, change, expectedEpoch);
  }

  acknowledge(tenant: string, epoch: number, stage: AckStage): void {
    const local = this.planes.acknowledge(tenant, epoch, stage);
    if (local === undefined) this.inner.acknowledge(tenant, epoch, stage);
    // Rejected only when the workers are shutting down: nothing to acknowledge then.
    else local.then(() => this.inner.acknowledge(tenant, epoch, stage), () => {});
  }

  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement<DrainResult | void> {
    const local = this.planes.acknowledged(tenant, epoch, stage);
    if (local === undefined) return this.inner.acknowledged(tenant, epoch, stage);
    // The coordinator's wait starts now, as inline (clustered, the leader times it from here:
    // drproxy_cluster_ack_duration_seconds); it cannot settle before this replica's own ack,
    // which `acknowledge` gives only once every worker acked.
    const rest = this.inner.acknowledged(tenant, epoch, stage);
    if (rest === undefined) return local;
    // The workers' drain counts are this process's: they outrank what the coordinator's wait gives.
    return Promise.all([local, rest]).then(([counts, other]) => counts ?? other);
  }

  localDrain(tenant: string, epoch: number): Promise<DrainResult | void> | undefined {
    return this.planes.acknowledged(tenant, epoch, 'drained');
  }

  serving(): boolean {
    return this.inner.serving();
  }

  onStatus(listener: () => void): () => void {
    return this.inner.onStatus(listener);
  }

  watch(tenant: string, listener: (state: TenantState) => void): () => void {
    return this.inner.watch(tenant, listener);
  }

  mayDecide(): boolean {
    return this.inner.mayDecide();
  }
}
