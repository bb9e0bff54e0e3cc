/**
 * A tenant's flip runner: it carries out one flip in the design's order, and the freezes and
 * unfreezes that go with flips. Its inputs are explicit (config, sites, the state it starts
 * from, a coordinator, a route publisher, a logger, a clock); it returns the state it leaves and
 * the flip's record, and reports each state it passes through as it goes (FlipEvents), since
 * status and metrics read the tenant's state while a flip runs.
 *
 *   1. persist the new epoch and the intent   4. fence hook on the old site
 *   2. hold new requests                        5. promote hook on the new site
 *   3. drain the old site                       6. route to the new site, release held requests
 *
 * The caller serialises flips: one runs at a time, against the state the previous one left.
 */
import type { TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { DrProxyError } from '../errors.js';
import type { Coordinator, StateChange } from '../state/coordinator.js';
import type { TenantState } from '../state/types.js';
import { fencesOldSite, landing } from './decide.js';
import { drainSite, type DrainResult, type UpgradeRegistry } from './drain.js';
import { failpoint } from './failpoints.js';
import { flipRecord, stepsSinceDetection, type FlipBase, type FlipHooks, type FlipRecord, type FlipTrigger, type StepTimes } from './flip.js';
import { callHook, type HookResult } from './hooks.js';
import type { RoutePublisher } from './route-publisher.js';
import type { HealthSnapshot, SiteRuntime } from './site.js';
import { mark } from '../trace-marks.js';
import { preconnectTarget } from './preconnect.js';

export interface FlipRequest {
  to: string;
  trigger: FlipTrigger;
  reason: string;
  actor?: string;
  /** Detection start for automatic flips: the failure that made the site unavailable (detection-start.ts). */
  detectedAt?: number;
  /** Checked inside the serialised flip, against the state the previous flip left. */
  check?: () => void;
  /** An operator's forced flip: it goes to `to` even if `to` fails during the flip. */
  force?: boolean;
  /** Set by `check`: the per-flip safety rules this flip breaks under break glass (flip-rules.ts). */
  brokenRules?: import('./flip-rules.js').RuleViolation[];
}

/** What a flip reports while it runs. */
export interface FlipEvents {
  /** The tenant's state, each time the flip changes it (before its commit, and once committed). */
  state(s: TenantState): void;
  /** A state was committed. */
  committed(s: TenantState): void;
  /**
   * Traffic landed at `at`: on the new site, or (`stayedOff`: the target) back on the old one,
   * whose failback hold-down to the target starts again.
   */
  landed(at: number, stayedOff?: string): void;
  /** The tenant's alert: a message, '' when it is over. */
  alert(message: string): void;
  /** A flip's record, made once its traffic has landed (or it froze). */
  recorded(record: FlipRecord): void;
  /** A flip finished: routed, stayed or frozen, its last commit done. */
  finished(record: FlipRecord): void;
}

export interface FlipRunnerDeps {
  readonly config: TenantConfig;
  readonly sites: readonly SiteRuntime[];
  readonly coordinator: Coordinator;
  readonly publisher: RoutePublisher;
  readonly log: Logger;
  readonly now: () => number;
  /** The sites' health at a time, as the decisions read it (decide.ts). */
  readonly health: (now: number) => HealthSnapshot;
  readonly upgrades?: UpgradeRegistry | undefined;
  readonly events: FlipEvents;
}

export interface FlipOutcome {
  state: TenantState;
  record: FlipRecord;
}

/** A flip past its drain: what the later steps need. */
interface Flight {
  base: FlipBase;
  fromSite: SiteRuntime | undefined;
  /** An operator's forced flip: it lands on its target whatever happened meanwhile. */
  force: boolean;
  /** Destroys what the drain left, once the new route is out (or the flip ends). */
  afterRoute: () => void;
  logDrain: () => void;
}

export class FlipRunner {
  /** The state as this runner last left it. */
  private cur!: TenantState;

  constructor(private readonly d: FlipRunnerDeps) {}

  /** Steps 1-6: flip `state` to `req.to`. */
  async run(state: TenantState, req: FlipRequest, requestedAt: number): Promise<FlipOutcome> {
    this.cur = state;
    const from = state.active;
    if (req.to === from && state.phase === 'active') throw new DrProxyError('DRP_CONFLICT', `site ${req.to} is already active`);
    failpoint('flip:before-persist');
    const epoch = state.epoch + 1;
    // 1. Persist the new epoch and the intent before any routing changes. Meanwhile, once the
    // commit is on its way to the writer thread (a microtask queued before this one), open the
    // connections the held requests will need at the target (nothing is sent on them yet).
    mark('persist-start', epoch);
    const persisting = this.commit({ epoch, phase: 'failing_over', active: from, from, to: req.to, fenced: state.fenced, trigger: req.trigger, reason: req.reason }, state.epoch);
    if (req.to !== from) queueMicrotask(() => preconnectTarget(this.site(req.to), this.d.config.proxy.standby_connections));
    await persisting;
    mark('persist-end', epoch);
    failpoint('flip:after-persist');
    return this.finish(from, req.to, epoch, req, requestedAt);
  }

  /** Steps 2-6 of a flip interrupted after its intent was persisted (`state` is failing_over). */
  resume(state: TenantState, req: FlipRequest): Promise<FlipOutcome> {
    this.cur = state;
    return this.finish(state.from ?? state.active, state.to!, state.epoch, req, this.d.now());
  }

  /** Commit `change` if the tenant's committed epoch is still `expected`. */
  async commit(change: StateChange, expected: number | undefined): Promise<TenantState> {
    const next = await this.d.coordinator.commit(this.d.config.name, change, expected);
    this.d.events.committed(next);
    this.set(next);
    return next;
  }

  /** Persist `frozen` and stop routing (503). The epoch stays where it is. */
  async freeze(s: TenantState, cause: NonNullable<TenantState['frozen_cause']>, message: string): Promise<TenantState> {
    this.cur = s;
    if (s.phase === 'frozen' && s.frozen_cause === cause) return s;
    // A replica that is no longer the leader freezes nothing, not even its own data plane: the
    // next leader decides (its commit would fail the guard anyway).
    if (!this.d.coordinator.mayDecide()) throw new DrProxyError('DRP_NOT_LEADER', `not freezing tenant ${this.d.config.name} (${cause}): this replica is no longer the leader`);
    this.set({ ...s, phase: 'frozen', frozen_cause: cause, from: undefined, to: undefined, reason: message });
    this.publish();
    this.d.events.alert(`tenant frozen: ${message}`);
    this.d.log.error({ audit: true, event: 'frozen', cause, epoch: s.epoch, active: s.active }, `tenant frozen (${cause})`);
    return this.commit({ epoch: s.epoch, phase: 'frozen', frozen_cause: cause, active: s.active, fenced: s.fenced, trigger: s.trigger, reason: message }, s.epoch);
  }

  /** A `no_site` freeze ends on its active site: it routes again, same epoch. */
  async unfreeze(s: TenantState, reason: string): Promise<TenantState> {
    this.set({ ...s, phase: 'active', frozen_cause: undefined });
    this.publish();
    this.d.log.warn({ audit: true, event: 'unfrozen', epoch: s.epoch, active: s.active }, `tenant unfrozen: ${reason}`);
    this.d.events.alert('');
    return this.commit({ epoch: s.epoch, phase: 'active', active: s.active, fenced: s.fenced, trigger: 'recovery', reason }, s.epoch);
  }

  private set(s: TenantState): void {
    this.cur = s;
    this.d.events.state(s);
  }

  private publish(): void {
    this.d.publisher.publish(this.cur, this.d.health(this.d.now()));
  }

  private site(name: string): SiteRuntime | undefined {
    return this.d.sites.find((s) => s.name === name);
  }

  /** Steps 2-6 of a flip whose intent and epoch are already persisted. */
  private async finish(from: string, target: string, epoch: number, req: FlipRequest, requestedAt: number): Promise<FlipOutcome> {
    const persistedAt = this.d.now();
    const fromSite = from !== target ? this.site(from) : undefined;
    // 2. Stop sending new requests to the old site: they are held until the new route is out.
    this.d.publisher.hold(from, target, epoch);
    mark('hold-published');
    // 3. Drain: idempotent requests are re-sent to the new site; the rest get drain_timeout.
    // Destroying the old site's pools waits until the new route is out (or the flip ends).
    let drain: DrainResult | undefined;
    const later: Array<() => void> = [];
    const afterRoute = (): void => {
      const work = later.splice(0);
      if (work.length > 0) setImmediate(() => work.forEach((w) => w()));
    };
    // The drain's log line waits until the route is out (or the flip stops): ~0.3 ms of
    // serialisation that the held requests need not wait for.
    let logDrain = (): void => {};
    if (fromSite) {
      drain = await drainSite(this.d.config.name, fromSite, this.d.config.failover.drain_timeout, this.d.upgrades, later);
      logDrain = () => {
        logDrain = () => {};
        const d = drain!;
        this.d.log.info({ site: from, ...d }, `drained ${from}: ${d.finished} finished, ${d.redispatched} re-sent, ${d.cut} cut`);
      };
    }
    try {
      // Every replica holds and has drained before anything irreversible (clustered: each
      // acknowledges under its lease; locally there is nothing to wait for, not even a turn).
      const coordinator = this.d.coordinator;
      coordinator.acknowledge(this.d.config.name, epoch, 'drained');
      const drained = coordinator.acknowledged(this.d.config.name, epoch, 'drained');
      if (drained) {
        // Threaded (server.workers ≥ 1) the workers drained the calls, not this thread: their sum.
        const elsewhere = await drained;
        if (elsewhere && drain) drain = elsewhere;
      }
      const drainedAt = this.d.now();
      mark('drained');
      failpoint('flip:after-drain');
      const base: FlipBase = { from, to: target, epoch, req, requestedAt, persistedAt, drainedAt, drain };
      return await this.land({ base, fromSite, force: req.force === true, afterRoute, logDrain: () => logDrain() });
    } finally {
      // A flip that stops early (frozen, failed) still destroys what the drain left.
      afterRoute();
      logDrain();
    }
  }

  /** Nothing irreversible yet: if the target failed meanwhile, land elsewhere (decide.ts, rule 5). */
  private async land(f: Flight): Promise<FlipOutcome> {
    const { base } = f;
    const { from, to: target, epoch, req } = base;
    const to = f.force ? target : landing({ state: this.cur, health: this.d.health(base.drainedAt), config: this.d.config }, from, target);
    // A flip back onto the site it starts from (a frozen tenant restarted in place) is no stay.
    if (to === from && target !== from) return await this.stay(base, `${target} became unavailable during the flip`, {});
    if (to !== target) {
      this.d.log.warn({ from, to, intended: target, epoch }, `failover target ${target} became unavailable during the flip: going to ${to}`);
      await this.commit({ epoch, phase: 'failing_over', active: from, from, to, fenced: this.cur.fenced, trigger: req.trigger, reason: req.reason }, epoch);
      base.to = to;
    }
    // An automatic failback leaves a site that is fine: a required hook failing keeps traffic there.
    const autoFailback = !fencesOldSite(req.trigger, req.actor);
    const fenced = await this.fence(f, autoFailback);
    if ('state' in fenced) return fenced;
    const fencedAt = this.d.now();
    failpoint('flip:after-fence');
    const promoted = await this.promote(base, autoFailback, fenced.fence);
    if ('state' in promoted) return promoted;
    const promotedAt = this.d.now();
    failpoint('flip:after-promote');
    return this.route(f, autoFailback, { fence: fenced.fence, promote: promoted.promote }, fencedAt, promotedAt);
  }

  /** 4. Fence the old site; an outcome when a required fence failed and the flip ends here. */
  private async fence(f: Flight, autoFailback: boolean): Promise<FlipOutcome | { fence?: HookResult }> {
    const { base, fromSite } = f;
    const { from, to, epoch, req } = base;
    const fenceHook = fromSite?.cfg.fence;
    if (!fenceHook) return {};
    const fence = await callHook(fenceHook, { action: 'fence', tenant: this.d.config.name, site: from, epoch, reason: req.reason });
    if (!fence.ok) {
      const down = fromSite!.confirmedDown();
      if (fenceHook.required && !down) {
        const message = `required fence hook on ${from} failed (${fence.error}) and ${from} still answers health checks: not promoting ${to}`;
        return autoFailback ? await this.stay(base, message, { fence }) : await this.freezeFlip(base, 'fence_failed', message, { fence });
      }
      this.d.log.warn({ site: from, error: fence.error, confirmed_down: down }, 'fence hook failed; going on (not required, or the site is confirmed down)');
    }
    return { fence };
  }

  /** 5. Promote the new site; an outcome when a required promote failed and the flip ends here. */
  private async promote(base: FlipBase, autoFailback: boolean, fence: HookResult | undefined): Promise<FlipOutcome | { promote?: HookResult }> {
    const { to, epoch, req } = base;
    const toSite = this.site(to)!;
    for (const b of toSite.backends) b.backend.reopen();
    const promoteHook = toSite.cfg.promote;
    if (!promoteHook) return {};
    const promote = await callHook(promoteHook, { action: 'promote', tenant: this.d.config.name, site: to, epoch, reason: req.reason });
    if (!promote.ok) {
      if (promoteHook.required) {
        const message = `required promote hook on ${to} failed (${promote.error}): not routing to ${to}`;
        // Staying is safe only if nothing was done to the old site (its fence hook failed, or it has none).
        if (autoFailback && fence?.ok !== true) return await this.stay(base, message, { fence, promote });
        return this.freezeFlip(base, 'promote_failed', message, { fence, promote });
      }
      this.d.log.warn({ site: to, error: promote.error }, 'promote hook failed; going on (not required)');
    }
    return { promote };
  }

  /** 6. Route to the new site; the slot's publication releases the held requests. */
  private async route(f: Flight, autoFailback: boolean, hooks: FlipHooks, fencedAt: number, promotedAt: number): Promise<FlipOutcome> {
    const { base, fromSite } = f;
    const { from, to, epoch, req } = base;
    const fenced = [...this.cur.fenced.filter((s) => s !== to && s !== from), ...(fromSite && !autoFailback ? [from] : [])];
    this.set({ tenant: this.d.config.name, epoch, phase: 'active', active: to, fenced, trigger: req.trigger, reason: req.reason, updated_at: this.cur.updated_at });
    this.publish();
    mark('route-published', to);
    f.afterRoute();
    const routedAt = this.d.now();
    this.d.events.landed(routedAt);
    this.d.events.alert('');
    failpoint('flip:after-route');
    // The slot's publication queued the held requests' release as a microtask: let it run
    // (the oldest held request goes to the new site now, the rest from the next turn on)
    // before the flip's bookkeeping — its record and metrics, the completion commit, the log
    // lines — instead of after it. A turn, not a microtask: on a pre-connected socket undici
    // gets its connection in a microtask queued by that release, and it writes the request
    // only then (the bookkeeping cost ~0.5 ms of CPU ahead of that write: bench/kill-gap.js).
    await new Promise<void>((r) => setImmediate(r));
    mark('bookkeeping');
    f.logDrain();
    const record = this.record(base, 'routed', { fencedAt, promotedAt, routedAt }, hooks);
    // Record completion; the epoch itself was durable before any routing changed. Followers
    // route on this commit, so their `routed` acknowledgements can only come after it.
    await this.commit({ epoch, phase: 'active', active: to, fenced, trigger: req.trigger, reason: req.reason }, epoch);
    const routed = this.routedEverywhere(epoch);
    if (routed) await routed;
    failpoint('flip:after-complete');
    this.logFlip(record);
    this.d.events.finished(record);
    mark('flip-finished');
    return { state: this.cur, record };
  }

  /**
   * Acknowledge `routed` for this replica and wait until every replica routes the new site: for
   * the flip's record, not for safety (the completion is committed). Locally nothing waits.
   */
  private routedEverywhere(epoch: number): Promise<unknown> | undefined {
    const { coordinator, config } = this.d;
    coordinator.acknowledge(config.name, epoch, 'routed');
    return coordinator
      .acknowledged(config.name, epoch, 'routed')
      ?.catch((err: unknown) => this.d.log.warn({ err, epoch }, 'stopped waiting for every data plane to route the new site (no longer the leader, or a worker hung: DRP_WORKER_HUNG)'));
  }

  private logFlip(r: FlipRecord): void {
    this.d.log.warn(
      {
        audit: true,
        event: 'failover',
        from: r.from,
        to: r.to,
        epoch: r.epoch,
        trigger: r.trigger,
        reason: r.reason,
        actor: r.actor,
        ...(r.break_glass && { break_glass: true, rules_broken: r.rules_broken }),
        duration_ms: r.durationMs,
        rto_ms: r.rtoMs,
        detected_at: new Date(r.timings.detectedAt).toISOString(),
        steps_ms: stepsSinceDetection(r.timings),
      },
      `failover ${r.from} → ${r.to} (epoch ${r.epoch})`,
    );
  }

  /**
   * The flip keeps the traffic on its old site, at its new epoch (decide.ts, rule 5): its target
   * failed before anything was done to the old site, or a required hook of an automatic failback
   * failed. The old site's pools, closed by the drain, are opened again.
   */
  private async stay(base: FlipBase, why: string, hooks: FlipHooks): Promise<FlipOutcome> {
    const { from, to, epoch, req } = base;
    for (const b of this.site(from)!.backends) b.backend.reopen();
    const reason = `${req.reason}; stayed on ${from}: ${why}`;
    const fenced = this.cur.fenced;
    this.set({ tenant: this.d.config.name, epoch, phase: 'active', active: from, fenced, trigger: req.trigger, reason, updated_at: this.cur.updated_at });
    this.publish();
    const at = this.d.now();
    this.d.events.landed(at, to);
    this.d.log.warn({ audit: true, event: 'failover_stayed', from, to, epoch, trigger: req.trigger, actor: req.actor }, `failover ${from} → ${to} stayed on ${from} (epoch ${epoch}): ${why}`);
    const record = this.record(base, 'stayed', { fencedAt: at, promotedAt: at, routedAt: at }, hooks);
    await this.commit({ epoch, phase: 'active', active: from, fenced, trigger: req.trigger, reason }, epoch);
    this.d.events.finished(record);
    return { state: this.cur, record };
  }

  /** A required hook failed mid-flip: no site takes traffic until an operator decides. */
  private async freezeFlip(base: FlipBase, cause: 'fence_failed' | 'promote_failed', message: string, hooks: FlipHooks): Promise<FlipOutcome> {
    const at = this.d.now();
    await this.freeze(this.cur, cause, message);
    const record = this.record(base, 'frozen', { fencedAt: at, promotedAt: at, routedAt: at }, hooks);
    this.d.events.finished(record);
    return { state: this.cur, record };
  }

  private record(base: FlipBase, result: FlipRecord['result'], t: StepTimes, hooks: FlipHooks): FlipRecord {
    const record = flipRecord(this.d.config.name, this.d.config.tier, base, result, t, hooks);
    this.d.events.recorded(record);
    return record;
  }
}
