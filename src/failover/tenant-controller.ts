/**
 * The control plane of one tenant: it composes the tenant's health input (active checks and
 * passive ejections), its decisions (decide.ts: a pure function of a health snapshot, the state
 * and the clock), its flip runner (flip-runner.ts), its route publisher (route-publisher.ts) and
 * the operator's actions. State is reached only through a Coordinator (state/coordinator.ts).
 *
 * States: active(site, epoch) → failing_over(from, to, epoch+1) → active(to, epoch+1), and
 * frozen when no site can take traffic or a required hook failed. The site that lost traffic is
 * fenced until an operator unfences it or fails back to it.
 *
 * Flow, one way: health → snapshot → decide() → an action → the flip runner (or a freeze, an
 * unfreeze, a timer) → the route publisher → the data plane.
 */
import { Serial } from '../serial.js';
import type { TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantState } from '../state/types.js';
import type { CheckResult } from '../health/active-check.js';
import type { HealthState } from '../health/hysteresis.js';
import type { SiteOutlierDetector } from '../health/site-outlier-detector.js';
import type { OutlierDetector } from '../health/outlier-detector.js';
import { DrProxyError } from '../errors.js';
import type { TenantSlot } from '../proxy/route.js';
import { snapshotSites, type BackendRuntime, type HealthSnapshot, type SiteRuntime } from './site.js';
import { buildSite } from './site-builder.js';
import type { FlipRecord } from './flip.js';
import { carriedMemory, unchangedSites } from './carry-over.js';
import { Availability, autoTarget, decide, freezeStillDue, landedMemory, notWanted, unfreezeStillDue, type Action, type DecisionMemory, type DecisionView, type FlipAction } from './decide.js';
import { FlipRunner, type FlipEvents, type FlipRequest } from './flip-runner.js';
import { RoutePublisher } from './route-publisher.js';
import { awaitingFirstState, Follower } from './follower.js';
import { ClusterStatus } from './cluster-status.js';
import { QuorumView } from './quorum-view.js';
import { settle } from './settle.js';
import { failbackRequest, failoverRequest, fenceChange, requireBackend, requireSite, unfenceChange, type OperatorRequest } from './operator.js';
import { realScheduler } from './scheduler.js';
import { DecisionTimer } from './decision-timer.js';
import { TenantAlerts } from './tenant-alerts.js';
import { ReadinessMonitor } from './readiness-monitor.js';
import type { HookChecks, SiteReadiness } from './readiness.js';
import type { ControllerDeps } from './controller-deps.js';
import type { RuleTrip } from './flip-rules.js';
import { mark } from '../trace-marks.js';

export type { FlipRequest } from './flip-runner.js';
export type { OperatorRequest } from './operator.js';
export type { ControllerDeps, ControllerHooks } from './controller-deps.js';

const MAX_RECORDS = 20;

export class TenantController {
  readonly name: string;
  readonly sites: SiteRuntime[];
  /** Set by init(); undefined only while the controller is being created. */
  state!: TenantState;
  /** Most recent flips, newest last. */
  readonly flips: FlipRecord[] = [];
  private cfg: TenantConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly publisher: RoutePublisher;
  private readonly runner: FlipRunner;
  /** Applies the states the leader commits (clustered; locally nothing is committed elsewhere). */
  private readonly follower: Follower;
  /** Leadership and coordinator loss, as Coordinator.onStatus reports them (cluster-status.ts). */
  private readonly status: ClusterStatus;
  /** Clustered: decisions read the quorum view of the replicas' votes (quorum-view.ts). */
  private readonly quorum: QuorumView | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly queue = new Serial();
  private flipping = false;
  /** trip_after, min_interval and the failback hold-down: what decide() remembers. */
  private memory: DecisionMemory = { lastFlipAt: 0, unavailableSince: 0, availability: new Availability() };
  private readonly timer: DecisionTimer;
  /** Passive health: one outlier detector per site, one per backend within it. */
  private readonly outliers: SiteOutlierDetector[] = [];
  private stopped = false;
  /** Quiesced by a reload: no decisions until resumed or stopped. */
  private paused = false;
  private readonly alerts: TenantAlerts;
  /** Standby readiness: the hooks' `check` calls (readiness-monitor.ts). */
  private readonly monitor: ReadinessMonitor;
  /** A drill runs (src/drill/): no automatic failback pulls the tenant off the drill's target. */
  private drilling = false;

  private constructor(
    cfg: TenantConfig,
    private readonly deps: ControllerDeps,
  ) {
    this.cfg = cfg;
    this.name = cfg.name;
    this.log = deps.logger.child({ tenant: cfg.name });
    this.now = deps.now ?? Date.now;
    this.timer = new DecisionTimer(deps.scheduler ?? realScheduler, this.now, () => this.evaluate());
    this.alerts = new TenantAlerts(this.log, this.now);
    this.sites = cfg.sites.map((s) => this.buildSite(s));
    this.publisher = new RoutePublisher(cfg, deps.headers, this.sites);
    this.runner = new FlipRunner({
      config: cfg,
      sites: this.sites,
      coordinator: deps.coordinator,
      publisher: this.publisher,
      log: this.log,
      now: this.now,
      health: (now) => this.snapshot(now),
      upgrades: deps.upgrades,
      events: this.flipEvents(),
    });
    const { coordinator, upgrades } = deps;
    this.follower = new Follower({
      ...{ config: cfg, sites: this.sites, coordinator, publisher: this.publisher, log: this.log, now: this.now, upgrades },
      current: () => this.state,
      // A state the leader committed, applied here: this replica's audit trail records it too.
      adopt: (s) => void ((this.state = s), deps.hooks?.onState?.(s)),
      publish: () => this.publish(),
      landed: (at) => (this.memory = { ...this.memory, lastFlipAt: at, unavailableSince: 0 }),
      busy: () => this.flipping || this.paused,
    });
    this.quorum = deps.votes && new QuorumView({ board: deps.votes, tenant: cfg.name, sites: this.sites, log: this.log, evaluate: () => this.evaluate() });
    this.monitor = new ReadinessMonitor({ config: cfg, sites: this.sites, state: () => this.state, now: this.now, scheduler: deps.scheduler ?? realScheduler, log: this.log });
    this.status = new ClusterStatus({ coordinator, publisher: this.publisher, log: this.log, state: () => this.state, resync: (why) => this.resync(why) });
  }

  /**
   * Load (or create) the tenant's persisted state and publish its first route. `prev`: the
   * controller this one replaces on a reload (quiesced), whose flip history it takes over.
   */
  static async create(cfg: TenantConfig, deps: ControllerDeps, prev?: TenantController): Promise<TenantController> {
    const c = new TenantController(cfg, deps);
    if (prev) c.inherit(prev);
    await c.init();
    c.monitor.start();
    return c;
  }

  /** Reload: take over what carry-over.ts lists, before any decision of this controller. */
  private inherit(prev: TenantController): void {
    const same = unchangedSites(prev.cfg, this.cfg);
    this.flips.push(...prev.flips);
    this.monitor.inherit(prev.monitor);
    this.drilling = prev.drilling;
    this.memory = carriedMemory(prev.memory, prev.state.active, same);
  }

  get config(): TenantConfig {
    return this.cfg;
  }

  /** The data plane's publication point of this tenant. */
  get slot(): TenantSlot {
    return this.publisher.slot;
  }

  /** When the last flip was routed (min_interval), 0 before the first. */
  get lastFlipAt(): number {
    return this.memory.lastFlipAt;
  }

  /** Since when each site has been available, unbroken (auto failback hold-down). */
  get availability(): Availability {
    return this.memory.availability;
  }

  // Standby readiness (readiness-monitor.ts): readiness() throws DRP_NOT_FOUND for an unknown site;
  // hookChecks(): each hook's last `check` answer; checkHooks(): ask them again now (a preflight).
  readiness = (siteName: string, now = this.now()): SiteReadiness => this.monitor.readiness(requireSite(this, siteName), now);
  readinessAll = (now = this.now()): SiteReadiness[] => this.sites.map((s) => this.monitor.readiness(s, now));
  hookChecks = (siteName: string): HookChecks => this.monitor.checks(siteName);
  checkHooks = (siteName?: string): Promise<void> => this.monitor.refresh(siteName);

  site(name: string): SiteRuntime | undefined {
    return this.sites.find((s) => s.name === name);
  }

  private buildSite(cfg: TenantConfig['sites'][number]): SiteRuntime {
    const built = buildSite(
      {
        tenant: this.cfg,
        log: this.log,
        now: this.now,
        deps: this.deps,
        accepting: () => !this.stopped && !this.paused && this.state !== undefined,
        evaluate: () => this.evaluate(),
        onHealth: (...a) => this.onHealth(...a),
      },
      cfg,
    );
    this.outliers.push(built.outliers);
    return built.site;
  }

  private async init(): Promise<void> {
    const c = this.deps.coordinator;
    // Subscribed before the load: a state committed meanwhile is applied once the load is in.
    this.unsubscribe.push(
      c.watch(this.name, (s) => this.follower.receive(s)),
      c.onStatus(() => this.status.changed()),
      ...(this.quorum ? [this.quorum.subscribe()] : []),
    );
    this.status.deciding = c.mayDecide();
    const stored = await c.load(this.name);
    // Clustered, a follower follows what the leader committed (follower.ts); it commits nothing.
    if (this.status.deciding) await this.settle(stored, 'resumed after restart');
    else this.follower.apply(stored ?? awaitingFirstState(this.cfg));
    this.follower.flush();
    this.status.changed();
  }

  /** This process decides (at start, or on taking over as leader): settle.ts. */
  private settle(stored: TenantState | undefined, why: string): Promise<void> {
    const { cfg, sites, runner, log } = this;
    const asFlip = async (run: () => Promise<unknown>): Promise<void> => {
      this.flipping = true;
      try {
        await run();
      } finally {
        this.flipping = false;
        this.follower.flush();
      }
    };
    return settle({ cfg, sites, runner, log, state: () => this.state, adopt: (s) => (this.state = s), alert: (m) => this.alert(m), asFlip, publish: () => this.publish() }, stored, why);
  }

  // --- Health input ------------------------------------------------------------------------

  private onHealth(site: string, outlier: OutlierDetector, result: CheckResult, state: HealthState, changed: boolean): void {
    if (this.stopped) return;
    const name = outlier.name;
    this.deps.hooks?.onCheck?.(this.name, site, name, result);
    if (result.inconclusive) this.alerts.overloaded(result.error);
    outlier.probeResult(result, state === 'up');
    if (!changed) return;
    const fields = { site, backend: name, state, status: result.status, error: result.error };
    if (state === 'down') this.log.warn(fields, 'backend down');
    else this.log.info(fields, `backend ${state}`);
    this.deps.hooks?.onBackendState?.(this.name, site, name, state, result);
    this.evaluate();
  }

  // --- Decisions ---------------------------------------------------------------------------

  /** The sites' health at `now`, as decide() reads it. */
  private snapshot(now: number): HealthSnapshot {
    return snapshotSites(this.sites, now, this.cfg.tier.rpo);
  }

  /** What decisions read: clustered, the quorum view, with this replica's vote published first. */
  private decisionHealth(now: number, own = this.snapshot(now)): HealthSnapshot {
    return this.quorum?.health(own, this.state.epoch, !this.paused) ?? own;
  }

  /** What the decisions helpers read now (decide.ts). */
  private view(now: number): DecisionView {
    return { health: this.decisionHealth(now), state: this.state, config: this.cfg, ...this.memory };
  }

  /**
   * Decide what the tenant should do now, and do it. Cheap and idempotent: called after every
   * health change, ejection, flip, and when a hold-down or minimum interval ends.
   */
  evaluate(): void {
    // Not initialised yet: a shared probe may answer while init() is still loading the state.
    if (this.stopped || this.state === undefined) return;
    const now = this.now();
    const own = this.snapshot(now);
    const health = this.decisionHealth(now, own);
    // A flip committed by the leader (or left half done by this replica when it stopped leading)
    // holds requests until its next state arrives: no route of the old site meanwhile.
    const busy = this.paused || this.flipping || (this.state.phase === 'failing_over' && !this.deps.coordinator.mayDecide());
    const d = decide({ tenant: this.state, busy, ...this.memory }, health, now, this.cfg);
    // Kept even while a flip runs: a failback needs its site available without a break.
    this.memory = d.memory;
    if (busy) return;
    if (d.alert !== undefined) this.alert(d.alert, d.trip);
    // Routes follow this replica's own view of its backends; decisions, the quorum's.
    this.publisher.publish(this.state, own);
    // Clustered, only the leader acts; the others keep their memory and publish their routes.
    if (this.deps.coordinator.mayDecide()) this.act(d.action, now);
  }

  private act(action: Action, now: number): void {
    switch (action.kind) {
      case 'none':
        return;
      case 'wait':
        this.timer.later(action.until - now);
        return;
      case 'flip':
        if (this.drilling && action.trigger === 'failback') return;
        if (this.deps.safety?.held(this.name, action, () => this.evaluate(), (m) => this.alert(m))) return; // kill switch, fleet breaker (src/safety/)
        this.startFlip(action);
        return;
      case 'freeze':
        void this.queue.run(() => this.freezeNoSite(action.reason)).catch((err: unknown) => this.log.error({ err }, 'could not persist the frozen state'));
        return;
      case 'unfreeze':
        void this.queue.run(() => this.unfreezeIfAvailable(action.reason)).catch((err: unknown) => this.log.error({ err }, 'could not persist the unfrozen state'));
        return;
    }
  }

  /** A new alert that is an automatic flip refused by a per-flip rule is also told (once, while it stands). */
  private alert(message: string, trip?: RuleTrip): void {
    if (this.alerts.alert(message) && trip) this.deps.hooks?.onSafetyRule?.(trip);
  }

  /** An automatic flip: it happens only if still wanted when its turn comes (decide.ts, rules 2, 5). */
  private startFlip(a: FlipAction): void {
    mark('trip', a.to);
    this.flipping = true; // no second decision while this one is queued
    const req: FlipRequest = { to: a.to, trigger: a.trigger, reason: a.reason, detectedAt: a.detectedAt };
    const check = (): void => {
      const now = this.now();
      const why = notWanted(this.view(now), req.trigger, req.to, now);
      if (why !== undefined) throw new DrProxyError('DRP_CONFLICT', why);
    };
    void this.failover({ ...req, check }).catch((err: unknown) => {
      if (err instanceof DrProxyError && err.code === 'DRP_CONFLICT') this.log.info({ to: req.to, trigger: req.trigger }, `automatic flip to ${req.to} not started: ${err.message}`);
      else if (err instanceof DrProxyError && err.code === 'DRP_NOT_LEADER') this.log.warn({ to: req.to, epoch: this.state.epoch }, `flip to ${req.to} stopped: this replica is no longer the leader; the next leader finishes it`);
      else this.log.error({ err }, 'failover failed');
    });
  }

  // --- Flips -------------------------------------------------------------------------------

  /**
   * Flip the tenant to `req.to`. Flips are serialised: a second request waits for the first
   * and then runs against the state the first left.
   */
  failover(req: FlipRequest): Promise<FlipRecord> {
    return this.queue.run(() => this.runFlip(req));
  }

  private async runFlip(req: FlipRequest): Promise<FlipRecord> {
    const requestedAt = this.now();
    this.flipping = true;
    try {
      req.check?.();
      return (await this.runner.run(this.state, req, requestedAt)).record;
    } finally {
      this.flipping = false;
      this.follower.flush();
      queueMicrotask(() => this.evaluate());
    }
  }

  /** How the flip runner's progress reaches this tenant's state, memory, alerts and hooks. */
  private flipEvents(): FlipEvents {
    return {
      state: (s) => void (this.state = s),
      committed: (s) => this.deps.hooks?.onState?.(s),
      landed: (at, stayedOff) => void (this.memory = landedMemory(this.memory, at, stayedOff)),
      alert: (message) => this.alert(message),
      recorded: (record) => void (this.flips.push(record) > MAX_RECORDS && this.flips.shift()),
      finished: (record) => this.deps.hooks?.onFlip?.(record),
    };
  }

  /**
   * Freeze for `no_site` (decide.ts, rule 6) only if, now that its turn has come, the active site
   * is still unavailable and no other site can take over; else decide again.
   */
  private async freezeNoSite(why: string): Promise<void> {
    if (freezeStillDue(this.view(this.now()))) await this.runner.freeze(this.state, 'no_site', why);
    else queueMicrotask(() => this.evaluate());
  }

  /** Unfreeze a `no_site` freeze only if the active site is still available now (decide.ts, rule 6). */
  private async unfreezeIfAvailable(reason: string): Promise<void> {
    if (unfreezeStillDue(this.view(this.now()))) await this.runner.unfreeze(this.state, reason);
    else queueMicrotask(() => this.evaluate());
  }

  // --- Clustered: leadership and the coordinator ------------------------------------------------

  /** Re-read the committed state and apply it: as the leader (settle), or as a follower. */
  private resync(why: string): void {
    void this.queue.run(async () => {
      const s = await this.deps.coordinator.load(this.name);
      // A new lease carries no acknowledgement of this replica: give them again.
      this.follower.reset();
      if (this.deps.coordinator.mayDecide()) await this.settle(s, `finished by the new leader (${why})`);
      else this.follower.apply(s ?? this.state);
    }).then(
      () => this.evaluate(),
      (err: unknown) => this.log.error({ err }, `could not re-apply the tenant's committed state (${why})`),
    );
  }

  /** Clustered, fail_closed: this replica lost its coordinator and answers 503 for the tenant. */
  get coordinatorLost(): boolean {
    return this.publisher.isLost;
  }

  /** The operator alert standing now ('' when none): tenant-alerts.ts. */
  get standingAlert(): string {
    return this.alerts.standing;
  }

  // --- Operator actions (admin API) ------------------------------------------------------------

  /** Forced failover to `to`, or to the next available site in preference order. */
  operatorFailover(op: OperatorRequest & { to?: string }): Promise<FlipRecord> {
    return this.forwarded<FlipRecord>('failover', op) ?? this.failover(failoverRequest(this, op, () => autoTarget(this.view(this.now()))));
  }

  /** Planned failback to the preferred (first) site; it is unfenced by the flip. */
  failback(op: OperatorRequest): Promise<FlipRecord> {
    return this.forwarded<FlipRecord>('failback', op) ?? this.failover(failbackRequest(this, op));
  }

  /** A drill starts (true) or ends (false: decide again, a failback may have been held back). */
  holdForDrill(on: boolean): void {
    if (!(this.drilling = on)) queueMicrotask(() => this.evaluate());
  }
  /** Freeze for `cause` (a drill interrupted by a crash, drills.on_interrupt: freeze). */
  freeze(cause: NonNullable<TenantState['frozen_cause']>, message: string): Promise<TenantState> {
    return this.queue.run(() => this.runner.freeze(this.state, cause, message));
  }

  /** Fence a site that is not active: it gets no traffic, automatic flips never choose it. */
  fence = (siteName: string, op: OperatorRequest): Promise<TenantState> => this.fencing('fence', siteName, op);
  /** Lift a fence: the site may be chosen by automatic flips again. */
  unfence = (siteName: string, op: OperatorRequest): Promise<TenantState> => this.fencing('unfence', siteName, op);

  private fencing(action: 'fence' | 'unfence', siteName: string, op: OperatorRequest): Promise<TenantState> {
    return this.forwarded<TenantState>(action, { ...op, site: siteName }) ?? this.queue.run(async () => {
      const change = (action === 'fence' ? fenceChange : unfenceChange)(this, siteName, op);
      if (change === undefined) return this.state;
      await this.runner.commit(change, this.state.epoch);
      // A fence takes the site out of the route; an unfence may let a decision choose it.
      if (action === 'fence') this.publish();
      else this.evaluate();
      return this.state;
    });
  }

  /** Clustered follower: the leader carries the action out and its answer is ours (cluster/proposals.ts). */
  private forwarded<T>(action: 'failover' | 'failback' | 'fence' | 'unfence', op: object): Promise<T> | undefined {
    const forward = this.deps.forward;
    if (forward === undefined || this.deps.coordinator.mayDecide()) return undefined;
    return forward(this.name, action, { ...op }) as Promise<T>;
  }

  /** Take a backend out of rotation (in-flight requests finish) or put it back. */
  setDrained(siteName: string, backendName: string, drained: boolean): BackendRuntime {
    const b = requireBackend(this, siteName, backendName);
    b.drained = drained;
    this.evaluate(); // publishes the route without (or with) the backend
    return b;
  }

  // --- Routes --------------------------------------------------------------------------------

  /** Publish the route that the current state and health call for, if it differs. */
  private publish(): void {
    if (this.state !== undefined) this.publisher.publish(this.state, this.snapshot(this.now()));
  }

  /** Every backend of every site (for shutdown and drains). */
  allBackends(): BackendRuntime[] {
    return this.sites.flatMap((s) => s.backends);
  }

  /** Reload: make no more decisions and wait for the flip or operator action in progress. */
  async quiesce(): Promise<void> {
    this.paused = true;
    await this.queue.idle();
  }

  /** Undo quiesce (a reload that failed half-way). */
  resume(): void {
    this.paused = false;
    this.evaluate();
  }

  /**
   * Reload: this controller is replaced by one with the new config (or removed). Requests it
   * holds are handed to the successor's route; with no successor they get 503.
   */
  handOver(next: TenantSlot | undefined): void {
    if (next === undefined) this.quorum?.withdraw(); // removed, not replaced: its vote goes
    this.publisher.handOver(next, this.state);
  }

  /** Stop probes and timers; pools close once their in-flight requests are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.timer.stop();
    this.monitor.stop();
    for (const o of this.outliers) o.stop();
    await this.queue.idle();
    for (const b of this.allBackends()) {
      b.health.release();
      void b.backend.close();
    }
  }
}
