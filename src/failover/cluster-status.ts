/**
 * What a tenant controller does when Coordinator.onStatus fires (clustered mode; the local
 * coordinator never fires it): it compares leadership and serving with what it last saw.
 *
 * - serving() turned false (fail_closed, etcd lost past the lease): every route published is
 *   the unavailable one (503, DRP_COORDINATOR_LOST), and readiness goes red;
 * - serving() turned true again, or mayDecide() turned true (this replica took over as leader):
 *   the committed state is read again and applied (`resync`): a new leader finishes a flip left
 *   half done at its persisted epoch;
 * - mayDecide() turned false: logged; the flip in progress, if any, stops at its next commit.
 * Under coordinator_loss: fail_static serving() stays true: nothing changes.
 */
import type { Logger } from '../log.js';
import type { Coordinator } from '../state/coordinator.js';
import type { TenantState } from '../state/types.js';
import type { RoutePublisher } from './route-publisher.js';

export interface ClusterStatusDeps {
  readonly coordinator: Coordinator;
  readonly publisher: RoutePublisher;
  readonly log: Logger;
  /** The tenant's state, undefined until the controller loaded it. */
  state(): TenantState | undefined;
  /** Re-read the committed state and apply it, as the leader or as a follower. */
  resync(why: string): void;
}

export class ClusterStatus {
  /** Whether this replica decided when last seen. */
  deciding: boolean;
  private serving = true;

  constructor(private readonly d: ClusterStatusDeps) {
    this.deciding = d.coordinator.mayDecide();
  }

  changed(): void {
    const state = this.d.state();
    if (state === undefined) return; // the controller's init calls again once loaded
    const c = this.d.coordinator;
    const serving = c.serving();
    const deciding = c.mayDecide();
    const regained = serving && !this.serving;
    if (serving !== this.serving) {
      this.serving = serving;
      const why = serving ? undefined : `this replica lost its coordinator (${c.kind}) for longer than its lease: it does not route this tenant until it reaches it again`;
      this.d.publisher.coordinatorLost(why, state);
      if (why) this.d.log.error({ alert: true, event: 'coordinator_lost' }, why);
      else this.d.log.warn({ event: 'coordinator_regained' }, 'coordinator reachable again: re-applying the committed state');
    }
    const tookOver = deciding && !this.deciding;
    if (!deciding && this.deciding) this.d.log.warn({ epoch: state.epoch }, 'no longer the leader: following the committed state');
    this.deciding = deciding;
    if (tookOver) this.d.log.warn({ epoch: state.epoch }, 'took over as leader: reloading the committed state');
    if (regained || tookOver) this.d.resync(tookOver ? 'took over as leader' : 'coordinator reachable again');
  }
}
