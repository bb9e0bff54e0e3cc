/**
 * A follower's apply path (cluster-protocol.md, "A flip across replicas"): a replica that does
 * not decide follows the states the leader commits, which reach it through Coordinator.watch.
 * It runs the flip steps that every replica runs on its own data plane, never the others:
 *
 *   failing_over(from, to, E) → hold new requests, drain `from`, acknowledge (E, drained)
 *   active(site, E)           → reopen the site's pools, route to it, acknowledge (E, routed)
 *   frozen                    → the unavailable route
 *
 * Epochs only go up: a state with a lower epoch than the one applied is ignored; a replica that
 * skipped epochs (slow, reconnected) applies the latest state directly. Within one epoch states
 * arrive in commit order (a fence or unfence, a freeze, the completion): each is routed again.
 * A follower calls no hook and commits nothing.
 */
import type { TenantConfig } from '../config/types.js';
import type { TenantState } from '../state/types.js';
import { drainSite, type DrainResult } from './drain.js';
import type { FlipRunnerDeps } from './flip-runner.js';
import type { SiteRuntime } from './site.js';

/** What the flip runner is given, less its health and events: the follower runs the same steps 2-3 and 6. */
export interface FollowerDeps extends Pick<FlipRunnerDeps, 'config' | 'sites' | 'coordinator' | 'publisher' | 'log' | 'now' | 'upgrades'> {
  /** The tenant's state as the controller holds it (undefined before its first load). */
  current(): TenantState | undefined;
  /** Adopt a committed state: status, metrics and later decisions read it. */
  adopt(s: TenantState): void;
  /** Publish the route of the current state and health. */
  publish(): void;
  /** Traffic landed on a new site at `at` (min_interval, should this replica lead later). */
  landed(at: number): void;
  /** This controller's own flip (or a reload) owns the state now: keep what arrives for later. */
  busy(): boolean;
}

/** The state a replica holds before the leader's first commit of a tenant: it holds requests. */
export function awaitingFirstState(cfg: TenantConfig): TenantState {
  const first = cfg.sites[0]!.name;
  return { tenant: cfg.name, epoch: 0, phase: 'failing_over', active: first, fenced: [], trigger: 'startup', reason: 'waiting for the leader to commit the first state', updated_at: new Date(0).toISOString() };
}

export class Follower {
  /** The epoch whose old site this replica drained (or is draining). */
  private drainedEpoch = 0;
  /** The last epoch acknowledged as routed. */
  private routedEpoch = 0;
  /** What the drain leaves to do once the next route is out (destroy retired pools). */
  private readonly later: Array<() => void> = [];
  /** The latest state that arrived while busy. */
  private pending: TenantState | undefined;

  constructor(private readonly d: FollowerDeps) {}

  /** Forget what was acknowledged: the next state applied is acknowledged (and drained) again. */
  reset(): void {
    this.drainedEpoch = 0;
    this.routedEpoch = 0;
  }

  /** A state committed elsewhere (the watch). */
  receive(s: TenantState): void {
    if (this.d.busy() || this.d.current() === undefined) {
      if (this.pending === undefined || newer(s, this.pending)) this.pending = s;
      return;
    }
    this.apply(s);
  }

  /** Apply what arrived while busy, if it is newer than the state the controller holds now. */
  flush(): void {
    const s = this.pending;
    this.pending = undefined;
    const cur = this.d.current();
    if (s !== undefined && (cur === undefined || newer(s, cur))) this.apply(s);
  }

  /** Apply a committed state to this replica's data plane. */
  apply(s: TenantState): void {
    const prev = this.d.current();
    if (prev !== undefined && s.epoch < prev.epoch) {
      this.d.log.debug({ epoch: s.epoch, applied: prev.epoch }, 'ignoring a tenant state older than the one applied');
      return;
    }
    this.d.adopt(s);
    if (s.phase === 'failing_over') return this.failingOver(s);
    this.afterRoute();
    if (s.phase === 'frozen') return this.d.publish();
    // The site's pools were closed if this replica drained it in an earlier flip.
    for (const b of this.site(s.active)?.backends ?? []) b.backend.reopen();
    this.d.publish();
    if (prev !== undefined && (prev.phase === 'failing_over' || prev.active !== s.active)) this.d.landed(this.d.now());
    if (s.epoch > this.routedEpoch) {
      this.routedEpoch = s.epoch;
      this.d.coordinator.acknowledge(this.d.config.name, s.epoch, 'routed');
    }
  }

  /** Flip steps 2-3 on this replica: hold, drain the old site, acknowledge. */
  private failingOver(s: TenantState): void {
    const { config, coordinator } = this.d;
    const from = s.from ?? s.active;
    const to = s.to ?? s.active;
    this.d.publisher.hold(from, to, s.epoch);
    if (s.epoch <= this.drainedEpoch) return; // a new target at the same epoch: held and drained already
    this.drainedEpoch = s.epoch;
    const site = from !== to ? this.site(from) : undefined;
    const acked = (): boolean => {
      // A later state may have come meanwhile: an older acknowledgement must not overwrite its own.
      const cur = this.d.current();
      if (cur?.epoch === s.epoch && cur.phase === 'failing_over') {
        coordinator.acknowledge(config.name, s.epoch, 'drained');
        return true;
      }
      this.afterRoute();
      return false;
    };
    if (!site) {
      acked();
      return;
    }
    const logDrain = (r: DrainResult): void => {
      this.d.log.info({ site: from, epoch: s.epoch, ...r }, `drained ${from} (following the leader): ${r.finished} finished, ${r.redispatched} re-sent, ${r.cut} cut`);
    };
    void drainSite(config.name, site, config.failover.drain_timeout, this.d.upgrades, this.later).then(
      (r) => {
        // Threaded, this thread served nothing: the line reports the drains that acknowledge
        // asked of the workers, summed.
        const workers = acked() ? coordinator.localDrain?.(config.name, s.epoch) : undefined;
        void Promise.resolve(workers).then((sum) => logDrain(sum ?? r), () => logDrain(r));
      },
      (err: unknown) => this.d.log.error({ err, site: from }, 'drain failed'),
    );
  }

  private afterRoute(): void {
    const work = this.later.splice(0);
    if (work.length > 0) setImmediate(() => work.forEach((w) => w()));
  }

  private site(name: string): SiteRuntime | undefined {
    return this.d.sites.find((x) => x.name === name);
  }
}

/**
 * Whether `a` was committed after `b`: a higher epoch; within one epoch, a flip's end after its
 * intent, else the later stamp (same epoch: usually the same leader's clock).
 */
export function newer(a: TenantState, b: TenantState): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  const ra = a.phase === 'failing_over' ? 0 : 1;
  const rb = b.phase === 'failing_over' ? 0 : 1;
  return ra !== rb ? ra > rb : a.updated_at >= b.updated_at;
}
