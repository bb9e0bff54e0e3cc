/**
 * Drills in clustered mode (docs/clustering.md, "Drills in clustered mode"): only the leader
 * runs them. A drill asked of a follower goes to the leader as a `drill` proposal
 * (proposals.ts) and is answered with the started drill's report, or refused with the leader's
 * reasons; reports live in etcd (drill-store.ts), so every replica lists every drill. A replica
 * that becomes leader recovers the drills its predecessor left `running` (marked `interrupted`,
 * the tenant failed back or frozen, drills.on_interrupt), as an embedded proxy does at start-up;
 * a replica that stops leading ends its own drills' dwell (their flips and report writes are
 * refused by etcd from then on: DRP_NOT_LEADER).
 *
 * Region drills the same way: asked of a follower, a `region_drill` proposal (no tenant) starts
 * it on the leader, answered with the `running` summary; a new leader marks the summary its
 * predecessor left `running` `interrupted` (each tenant's drill is recovered as above), and a
 * replica that stops leading starts no further tenant of its region drills.
 */
import { DrProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import { DrillRefusedError } from '../drill/errors.js';
import type { DrillService } from '../drill/service.js';
import type { DrillServiceDeps } from '../drill/deps.js';
import type { DrillReason, DrillReport, DrillRequest, RegionDrillReport } from '../drill/types.js';
import type { RegionDrillRequest, RegionDrills } from '../drill/region.js';
import { ForwardedError, type Proposal } from './proposals.js';
import type { ClusterReplica } from './replica.js';

type Replica = Pick<ClusterReplica, 'forward' | 'onLeading' | 'coordinator' | 'drillStore'>;

/** After a failed recovery (etcd unreachable), the leader tries again this often, ms. */
const RECOVERY_RETRY_MS = 1000;

/**
 * DrillServiceDeps.forward: undefined when this replica leads (the drill runs here), else the
 * leader's answer: the started drill's `running` report, or its refusal as the leader threw it.
 */
export function forwardDrill(replica: Replica, req: DrillRequest): Promise<DrillReport> | undefined {
  if (replica.coordinator.mayDecide()) return undefined;
  return replica.forward(req.tenant, 'drill', { ...req }).then(
    (report) => report as DrillReport,
    (err: unknown) => {
      throw fromLeader(err);
    },
  );
}

/** RegionDrillDeps.forward: undefined when this replica leads (the region drill runs here), else the leader's `running` summary or its error. */
export function forwardRegionDrill(replica: Replica, req: RegionDrillRequest): Promise<RegionDrillReport> | undefined {
  if (replica.coordinator.mayDecide()) return undefined;
  return replica.forward('', 'region_drill', { ...req }) as Promise<RegionDrillReport>;
}

/** The leader's error as the follower rethrows it: a refusal keeps its class (the admin API's 409 with the reasons). */
function fromLeader(err: unknown): unknown {
  if (!(err instanceof ForwardedError) || err.code !== 'DRP_DRILL_REFUSED') return err;
  const d = err.details as { tenant?: string; reasons?: DrillReason[]; id?: string };
  return new DrillRefusedError(d.tenant ?? '', Array.isArray(d.reasons) ? d.reasons : [], d.id ?? '');
}

/** The drill service's options on a replica: reports in etcd, named by the replica, drills forwarded to the leader. */
export function clusterDrillOptions(replica: ClusterReplica): Pick<DrillServiceDeps, 'store' | 'runner' | 'forward'> {
  return { store: replica.drillStore, runner: replica.coordinator.replicaId, forward: (req) => forwardDrill(replica, req) };
}

/** The leader carries out a forwarded drill or region drill: started here, never forwarded again. */
export function carryOutDrill(service: DrillService | undefined, p: Proposal, regions?: RegionDrills): Promise<DrillReport | RegionDrillReport> {
  if (p.action === 'region_drill') {
    if (regions === undefined) return Promise.reject(new DrProxyError('DRP_DRILL_UNAVAILABLE', 'drills are not available on the leader'));
    return regions.startHere(p.op as unknown as RegionDrillRequest);
  }
  if (service === undefined) return Promise.reject(new DrProxyError('DRP_DRILL_UNAVAILABLE', 'drills are not available on the leader'));
  return service.startHere({ ...(p.op as unknown as DrillRequest), tenant: p.tenant });
}

/**
 * The leader recovers interrupted drills when it starts leading (now, if it already leads),
 * retrying while it leads and etcd does not answer; a replica that stops leading abandons its
 * drills. Returns the unsubscribe function.
 */
export function followLeadership(replica: Replica, service: DrillService, log: Logger, regions?: RegionDrills): () => void {
  let term = 0;
  let timer: NodeJS.Timeout | undefined;
  const retry = (mine: number): void => {
    timer = setTimeout(() => mine === term && recover(mine), RECOVERY_RETRY_MS);
    timer.unref();
  };
  const recover = (mine: number): void => {
    recoverOnce(replica, service, regions).then(
      ({ done, left }) => {
        if (done.length > 0) log.warn({ drills: done.map((r) => r.id) }, `recovered ${done.length} interrupted drill(s) as the new leader`);
        if (left === 0 || mine !== term) return;
        // A recovered report whose final write etcd refused is still `running` there.
        log.error({ alert: true }, `${left} interrupted drill report(s) still read running in etcd: recovering again in ${RECOVERY_RETRY_MS} ms`);
        retry(mine);
      },
      (err: unknown) => {
        if (mine !== term) return;
        log.error({ alert: true, err }, `could not recover interrupted drills (retrying in ${RECOVERY_RETRY_MS} ms while this replica leads)`);
        retry(mine);
      },
    );
  };
  const changed = (leading: boolean): void => {
    term++;
    clearTimeout(timer);
    if (leading) recover(term);
    else {
      service.abandon('this replica stopped leading the cluster');
      regions?.abandon();
    }
  };
  const off = replica.onLeading(changed);
  if (replica.coordinator.mayDecide()) changed(true);
  return () => {
    term++;
    clearTimeout(timer);
    off();
  };
}

/** Recover, then count the drills of tenants not drilling here that etcd still has `running`. */
async function recoverOnce(replica: Replica, service: DrillService, regions: RegionDrills | undefined): Promise<{ done: Array<DrillReport | RegionDrillReport>; left: number }> {
  const done: Array<DrillReport | RegionDrillReport> = await service.recoverInterrupted();
  if (regions) done.push(...(await regions.recoverInterrupted()));
  const still = await replica.drillStore.running();
  return { done, left: still.filter((r) => (r.kind === 'drproxy.drill' ? !service.isRunning(r.tenant) : regions !== undefined && !regions.isLive(r.id))).length };
}
