/**
 * The control plane of one tenant: it watches its sites' health (active checks and passive
 * ejections), decides when to flip, runs flips one at a time in the design's order, persists the
 * epoch before any routing change, and publishes the tenant's route for the data plane.
 *
 * States: active(site, epoch) → failing_over(from, to, epoch+1) → active(to, epoch+1), and
 * frozen when no site can take traffic or a required hook failed. The site that lost traffic is
 * fenced until an operator unfences it or fails back to it.
 *
 * Order of every flip (automatic, forced, failback, recovery):
 *   1. persist the new epoch and the intent   4. fence hook on the old site
 *   2. hold new requests                        5. promote hook on the new site
 *   3. drain the old site                       6. route to the new site, release held requests
 */
import type { HeaderNames, TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { StateStore, TenantState } from '../state/types.js';
import type { HealthRegistry } from '../health/registry.js';
import type { CheckResult } from '../health/active-check.js';
import type { HealthState } from '../health/hysteresis.js';
import { newEjectable } from '../health/outlier.js';
import { loopScheduler, SiteOutlierDetector } from '../health/site-outlier-detector.js';
import type { OutlierDetector } from '../health/outlier-detector.js';
import { DrProxyError } from '../errors.js';
import { Backend, type PassiveFailure } from '../proxy/backend.js';
import { TenantSlot, type RouteMode, type TenantRoute } from '../proxy/route.js';
import { SiteRuntime, type BackendRuntime } from './site.js';
import { buildRoute, sameRoute } from './routes.js';
import { drainSite, type DrainResult, type UpgradeRegistry } from './drain.js';
import { callHook, type HookResult } from './hooks.js';
import { failpoint } from './failpoints.js';
import { flipRecord, stepsSinceDetection, type FlipBase, type FlipHooks, type FlipRecord, type FlipTrigger, type StepTimes } from './flip.js';
import { unchangedSites } from './carry-over.js';
import { Availability, autoTarget, awaitingFirstResults, failbackDue, fencesOldSite, landing, notWanted, recoveryTarget } from './decide.js';

export interface ControllerHooks {
  /** A flip finished (routed, stayed or frozen); its record holds the timings. */
  onFlip?(record: FlipRecord): void;
  /** A backend's active health changed state. */
  onBackendState?(tenant: string, site: string, backend: string, state: HealthState, result: CheckResult): void;
  /**
   * Every probe result (tests). Set, it makes each of the tenant's checks call back on every
   * result instead of only on changes; the metrics do not need it (they read the checks' tallies).
   */
  onCheck?(tenant: string, site: string, backend: string, result: CheckResult): void;
  /** A backend was ejected by passive health. */
  onEjection?(tenant: string, site: string, backend: string, ms: number, kind: PassiveFailure): void;
  /** A backend's slow answers were not confirmed: it answered the probe sent for them. */
  onSlowUnconfirmed?(tenant: string, site: string, backend: string): void;
  /** The persisted state changed (flip, freeze, fence, unfence). */
  onState?(state: TenantState): void;
}

export interface ControllerDeps {
  store: StateStore;
  health: HealthRegistry;
  logger: Logger;
  headers: HeaderNames;
  hooks?: ControllerHooks;
  upgrades?: UpgradeRegistry;
  now?: () => number;
}

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
}

export interface OperatorRequest {
  reason: string;
  actor: string;
  force?: boolean;
}

const MAX_RECORDS = 20;

export class TenantController {
  readonly name: string;
  readonly slot: TenantSlot;
  readonly sites: SiteRuntime[];
  /** Set by init(); undefined only while the controller is being created. */
  state!: TenantState;
  /** Most recent flips, newest last. */
  readonly flips: FlipRecord[] = [];
  private cfg: TenantConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private chain: Promise<unknown> = Promise.resolve();
  private flipping = false;
  /** When the last flip was routed (min_interval), 0 before the first. */
  lastFlipAt = 0;
  /** Since when the active site has been unavailable (trip_after), or 0. */
  private unavailableSince = 0;
  /** Since when each site has been available, unbroken (auto failback hold-down). */
  readonly availability = new Availability();
  private evaluateTimer: NodeJS.Timeout | undefined;
  private evaluateAt = 0;
  /** Passive health: one outlier detector per site, one per backend within it. */
  private readonly outliers: SiteOutlierDetector[] = [];
  private stopped = false;
  /** Quiesced by a reload: no decisions until resumed or stopped. */
  private paused = false;
  /** Last alert logged, so that an ongoing condition is logged once, not every check. */
  private alerted = '';

  private constructor(
    cfg: TenantConfig,
    private readonly deps: ControllerDeps,
  ) {
    this.cfg = cfg;
    this.name = cfg.name;
    this.log = deps.logger.child({ tenant: cfg.name });
    this.now = deps.now ?? Date.now;
    this.sites = cfg.sites.map((s) => this.buildSite(s));
    this.slot = new TenantSlot(cfg.name, this.makeRoute('hold', cfg.sites[0]!.name, 0, 'starting'));
  }

  /**
   * Load (or create) the tenant's persisted state and publish its first route. `prev`: the
   * controller this one replaces on a reload (quiesced), whose flip history it takes over.
   */
  static async create(cfg: TenantConfig, deps: ControllerDeps, prev?: TenantController): Promise<TenantController> {
    const c = new TenantController(cfg, deps);
    if (prev) c.inherit(prev);
    await c.init();
    return c;
  }

  /** Reload: take over what carry-over.ts lists, before any decision of this controller. */
  private inherit(prev: TenantController): void {
    const same = unchangedSites(prev.cfg, this.cfg);
    this.lastFlipAt = prev.lastFlipAt;
    this.flips.push(...prev.flips);
    this.availability.carry(prev.availability, same);
    if (same.has(prev.state.active)) this.unavailableSince = prev.unavailableSince;
  }

  get config(): TenantConfig {
    return this.cfg;
  }

  site(name: string): SiteRuntime | undefined {
    return this.sites.find((s) => s.name === name);
  }

  private buildSite(cfg: TenantConfig['sites'][number]): SiteRuntime {
    // Reports come from the data plane; the detectors act on a later turn and call evaluate().
    const outliers = new SiteOutlierDetector({
      tenant: this.name,
      site: cfg.name,
      config: this.cfg.passive_health,
      log: this.log,
      scheduler: loopScheduler(this.now),
      accepting: () => !this.stopped && !this.paused && this.state !== undefined,
      onChange: () => this.evaluate(),
      events: this.deps.hooks,
    });
    this.outliers.push(outliers);
    const backends: BackendRuntime[] = cfg.backends.map((bc) => {
      const runtime: BackendRuntime = {
        backend: new Backend(this.cfg.name, cfg.name, bc, this.cfg.proxy, this.now),
        drained: false,
        confirming: false,
        passive: newEjectable(),
        ejectedSince: 0,
        health: this.deps.health.acquire(bc.origin, cfg.health_check, {
          onResult: (result, state, changed) => this.onHealth(cfg.name, outlier, result, state, changed),
          everyResult: this.deps.hooks?.onCheck !== undefined,
        }),
      };
      const outlier = outliers.add(runtime);
      return runtime;
    });
    return new SiteRuntime(cfg, backends);
  }

  private async init(): Promise<void> {
    const stored = await this.deps.store.load(this.name);
    if (!stored) {
      const first = this.cfg.sites[0]!.name;
      this.state = await this.commit(
        { epoch: 1, phase: 'active', active: first, fenced: [], trigger: 'startup', reason: 'first start' },
        undefined,
      );
      this.log.info({ epoch: 1, site: first }, 'tenant initialised');
    } else {
      this.state = stored;
      this.log.info({ epoch: stored.epoch, site: stored.active, phase: stored.phase }, 'tenant state loaded');
    }
    const s = this.state;
    if (s.phase === 'failing_over' && s.to && this.site(s.to)) {
      // A flip was interrupted after its epoch was persisted: finish it, never go back.
      this.log.warn({ epoch: s.epoch, from: s.from, to: s.to }, 'resuming an interrupted failover');
      this.flipping = true;
      try {
        await this.finishFlip(s.from ?? s.active, s.to, s.epoch, { to: s.to, trigger: 'recovery', reason: `resumed after restart: ${s.reason}` }, this.now());
      } finally {
        this.flipping = false;
      }
    } else if (s.phase === 'frozen' && s.frozen_cause === 'state_lost') {
      // Its state was lost (see FileStateStore.load): no site takes traffic until an operator
      // fails it over, even when the last known active site is gone from the config.
      this.alert(`tenant frozen: ${s.reason}`);
    } else if (!this.site(s.active) || s.phase === 'failing_over') {
      // The active site is gone from the config: move to the first remaining site, new epoch.
      const target = this.sites.find((x) => !s.fenced.includes(x.name)) ?? this.sites[0]!;
      this.log.warn({ missing: s.active, to: target.name }, 'active site is not in the config; moving');
      this.state = await this.commit(
        { epoch: s.epoch + 1, phase: 'active', active: target.name, fenced: s.fenced.filter((f) => this.site(f)), trigger: 'config', reason: `site ${s.active} is not in the config` },
        s.epoch,
      );
    }
    this.publish();
  }

  // --- Health input ------------------------------------------------------------------------

  private onHealth(site: string, outlier: OutlierDetector, result: CheckResult, state: HealthState, changed: boolean): void {
    if (this.stopped) return;
    const name = outlier.name;
    this.deps.hooks?.onCheck?.(this.name, site, name, result);
    if (result.inconclusive) this.overloaded(result);
    outlier.probeResult(result, state === 'up');
    if (!changed) return;
    const fields = { site, backend: name, state, status: result.status, error: result.error };
    if (state === 'down') this.log.warn(fields, 'backend down');
    else this.log.info(fields, `backend ${state}`);
    this.deps.hooks?.onBackendState?.(this.name, site, name, state, result);
    this.evaluate();
  }

  // --- Decisions ---------------------------------------------------------------------------

  /**
   * Decide what the tenant should do now. Cheap and idempotent: called after every health
   * change, ejection, flip, and when a hold-down or minimum interval ends.
   */
  evaluate(): void {
    // Not initialised yet: a shared probe may answer while init() is still loading the state.
    if (this.stopped || this.state === undefined) return;
    const now = this.now();
    // Tracked even while a flip runs: a failback needs its site available without a break.
    this.availability.update(this.sites, now);
    if (this.paused || this.flipping) return;
    const st = this.state;
    const cfg = this.cfg.failover;
    if (st.phase === 'frozen') {
      this.publish();
      if (st.frozen_cause === 'no_site') this.recover(now);
      return;
    }
    const active = this.site(st.active)!;
    const health = active.health(now);
    if (!health.unavailable) {
      this.unavailableSince = 0;
      this.alert('');
      this.publish();
      if (cfg.mode === 'auto' && cfg.failback === 'auto') this.considerFailback(now);
      return;
    }
    // The active site cannot take traffic.
    if (this.unavailableSince === 0) this.unavailableSince = now;
    this.publish();
    if (cfg.mode === 'manual') {
      this.alert(`active site ${active.name} is unavailable and the tenant is in manual mode: waiting for an operator`);
      return;
    }
    const tripIn = this.unavailableSince + cfg.trip_after - now;
    if (tripIn > 0) {
      this.evaluateLater(tripIn);
      return;
    }
    // min_interval never delays a failover to an available site (decide.ts, rule 3)...
    const target = autoTarget(this, now);
    const wait = this.lastFlipAt + cfg.min_interval - now;
    if (!target && this.lastFlipAt !== 0 && wait > 0) {
      // ...but with none, it delays the freeze (requests are held meanwhile), as it always has.
      this.alert(`active site ${active.name} is unavailable and no other site can take over; freezing in ${Math.ceil(wait / 1000)}s (min_interval)`);
      this.evaluateLater(wait);
      return;
    }
    if (!target && awaitingFirstResults(this, now)) {
      // Another site has not been probed yet (start-up): hold requests and decide on its
      // first result rather than freeze now and recover a moment later.
      this.alert(`active site ${active.name} is unavailable; waiting for the first health results of the other sites`);
      return;
    }
    if (!target) {
      const why = `no site can take traffic: ${active.name} is unavailable and no other site is available, unfenced and fresh`;
      void this.serial(() => this.freezeNoSite(why)).catch((err: unknown) => this.log.error({ err }, 'could not persist the frozen state'));
      return;
    }
    this.startFlip({
      to: target.name,
      trigger: 'health',
      reason: `site ${active.name} unavailable (${health.up}/${health.total} backends up, ${health.need} needed)`,
      detectedAt: active.detectionStart(now) || now,
    });
  }

  /** Frozen because nothing was available: go to the most preferred site that is back. */
  private recover(now: number): void {
    const target = recoveryTarget(this, now);
    if (!target) return;
    if (target.name === this.state.active) {
      void this.serial(() => this.unfreezeIfAvailable()).catch((err: unknown) => this.log.error({ err }, 'could not persist the unfrozen state'));
      return;
    }
    this.startFlip({ to: target.name, trigger: 'recovery', reason: `site ${target.name} is available again`, detectedAt: now });
  }

  /** Auto failback: a more preferred site has been available for failback_after (decide.ts, rule 2). */
  private considerFailback(now: number): void {
    const due = failbackDue(this);
    if (!due) return;
    if (due.at > now) {
      this.evaluateLater(due.at - now);
      return;
    }
    const s = due.site;
    this.startFlip({ to: s.name, trigger: 'failback', reason: `preferred site ${s.name} healthy for ${this.cfg.failover.failback_after}ms (auto failback)`, detectedAt: now });
  }

  private lastOverloadLog = 0;

  /** Probes come back inconclusive: say so, at most once a minute per tenant. */
  private overloaded(result: CheckResult): void {
    const now = this.now();
    if (now - this.lastOverloadLog < 60_000) return;
    this.lastOverloadLog = now;
    this.log.error({ alert: true, error: result.error }, 'health checks are running late: drproxy is overloaded; probe results are ignored until it catches up (no failover is decided on them)');
  }

  private alert(message: string): void {
    if (message === this.alerted) return;
    this.alerted = message;
    if (message !== '') this.log.error({ alert: true }, message);
  }

  private evaluateLater(ms: number): void {
    const at = this.now() + ms;
    if (this.evaluateTimer && this.evaluateAt <= at) return;
    if (this.evaluateTimer) clearTimeout(this.evaluateTimer);
    this.evaluateAt = at;
    this.evaluateTimer = setTimeout(() => {
      this.evaluateTimer = undefined;
      this.evaluate();
    }, ms + 5);
    this.evaluateTimer.unref();
  }

  /** An automatic flip: it happens only if still wanted when its turn comes (decide.ts, rules 2, 5). */
  private startFlip(req: FlipRequest): void {
    this.flipping = true; // no second decision while this one is queued
    const check = (): void => {
      const why = notWanted(this, req.trigger, req.to, this.now());
      if (why !== undefined) throw new DrProxyError('DRP_CONFLICT', why);
    };
    void this.failover({ ...req, check }).catch((err: unknown) => {
      if (err instanceof DrProxyError && err.code === 'DRP_CONFLICT') this.log.info({ to: req.to, trigger: req.trigger }, `automatic flip to ${req.to} not started: ${err.message}`);
      else this.log.error({ err }, 'failover failed');
    });
  }

  // --- Flips -------------------------------------------------------------------------------

  /**
   * Flip the tenant to `req.to`. Flips are serialised: a second request waits for the first
   * and then runs against the state the first left.
   */
  failover(req: FlipRequest): Promise<FlipRecord> {
    const run = this.chain.then(() => this.runFlip(req));
    this.chain = run.catch(() => {});
    return run;
  }

  private async runFlip(req: FlipRequest): Promise<FlipRecord> {
    const requestedAt = this.now();
    this.flipping = true;
    try {
      req.check?.();
      const from = this.state.active;
      if (req.to === from && this.state.phase === 'active') {
        throw new DrProxyError('DRP_CONFLICT', `site ${req.to} is already active`);
      }
      failpoint('flip:before-persist');
      const epoch = this.state.epoch + 1;
      // 1. Persist the new epoch and the intent before any routing changes.
      this.state = await this.commit(
        { epoch, phase: 'failing_over', active: from, from, to: req.to, fenced: this.state.fenced, trigger: req.trigger, reason: req.reason },
        this.state.epoch,
      );
      failpoint('flip:after-persist');
      return await this.finishFlip(from, req.to, epoch, req, requestedAt);
    } finally {
      this.flipping = false;
      queueMicrotask(() => this.evaluate());
    }
  }

  /** Steps 2-6 of a flip whose intent and epoch are already persisted. */
  private async finishFlip(from: string, target: string, epoch: number, req: FlipRequest, requestedAt: number): Promise<FlipRecord> {
    const persistedAt = this.now();
    const fromSite = from !== target ? this.site(from) : undefined;
    // 2. Stop sending new requests to the old site: they are held until the new route is out.
    this.slot.publish(this.makeRoute('hold', from, epoch, `failing over from ${from} to ${target}`));
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
      const d = (drain = await drainSite(this.name, fromSite, this.cfg.failover.drain_timeout, this.deps.upgrades, later));
      logDrain = () => {
        logDrain = () => {};
        this.log.info({ site: from, ...d }, `drained ${from}: ${d.finished} finished, ${d.redispatched} re-sent, ${d.cut} cut`);
      };
    }
    try {
      const drainedAt = this.now();
      failpoint('flip:after-drain');
      // Nothing irreversible yet: if the target failed meanwhile, land elsewhere (decide.ts, rule 5).
      const to = req.force === true ? target : landing(this, from, target, drainedAt);
      const base = { from, to: target, epoch, req, requestedAt, persistedAt, drainedAt, drain };
      // A flip back onto the site it starts from (a frozen tenant restarted in place) is no stay.
      if (to === from && target !== from) return await this.stay(base, `${target} became unavailable during the flip`, {});
      if (to !== target) {
        this.log.warn({ from, to, intended: target, epoch }, `failover target ${target} became unavailable during the flip: going to ${to}`);
        this.state = await this.commit({ epoch, phase: 'failing_over', active: from, from, to, fenced: this.state.fenced, trigger: req.trigger, reason: req.reason }, epoch);
        base.to = to;
      }
      const toSite = this.site(to)!;
      // An automatic failback leaves a site that is fine: a required hook failing keeps traffic there.
      const autoFailback = !fencesOldSite(req.trigger, req.actor);
      // 4. Fence the old site.
      let fence: HookResult | undefined;
      const fenceHook = fromSite?.cfg.fence;
      if (fenceHook) {
        fence = await callHook(fenceHook, { action: 'fence', tenant: this.name, site: from, epoch, reason: req.reason });
        if (!fence.ok) {
          const down = fromSite!.confirmedDown();
          if (fenceHook.required && !down) {
            const message = `required fence hook on ${from} failed (${fence.error}) and ${from} still answers health checks: not promoting ${to}`;
            return autoFailback ? await this.stay(base, message, { fence }) : await this.freezeFlip(base, 'fence_failed', message, { fence });
          }
          this.log.warn({ site: from, error: fence.error, confirmed_down: down }, 'fence hook failed; going on (not required, or the site is confirmed down)');
        }
      }
      const fencedAt = this.now();
      failpoint('flip:after-fence');
      // 5. Promote the new site.
      for (const b of toSite.backends) b.backend.reopen();
      let promote: HookResult | undefined;
      const promoteHook = toSite.cfg.promote;
      if (promoteHook) {
        promote = await callHook(promoteHook, { action: 'promote', tenant: this.name, site: to, epoch, reason: req.reason });
        if (!promote.ok) {
          if (promoteHook.required) {
            const message = `required promote hook on ${to} failed (${promote.error}): not routing to ${to}`;
            // Staying is safe only if nothing was done to the old site (its fence hook failed, or it has none).
            if (autoFailback && fence?.ok !== true) return await this.stay(base, message, { fence, promote });
            return this.freezeFlip(base, 'promote_failed', message, { fence, promote });
          }
          this.log.warn({ site: to, error: promote.error }, 'promote hook failed; going on (not required)');
        }
      }
      const promotedAt = this.now();
      failpoint('flip:after-promote');
      // 6. Route to the new site; the slot's publication releases the held requests.
      const fenced = [...this.state.fenced.filter((s) => s !== to && s !== from), ...(fromSite && !autoFailback ? [from] : [])];
      this.state = { tenant: this.name, epoch, phase: 'active', active: to, fenced, trigger: req.trigger, reason: req.reason, updated_at: this.state.updated_at };
      this.unavailableSince = 0;
      this.publish();
      afterRoute();
      const routedAt = this.now();
      this.lastFlipAt = routedAt;
      this.alerted = '';
      failpoint('flip:after-route');
      // The slot's publication queued the held requests' release as a microtask: let it run
      // (the oldest held request goes to the new site now, the rest from the next turn on)
      // before the flip's bookkeeping — its record and metrics, the completion commit, the log
      // lines — instead of after it.
      await undefined;
      logDrain();
      const record = this.record(base, 'routed', { fencedAt, promotedAt, routedAt }, { fence, promote });
      // Record completion; the epoch itself was durable before any routing changed.
      this.state = await this.commit({ epoch, phase: 'active', active: to, fenced, trigger: req.trigger, reason: req.reason }, epoch);
      failpoint('flip:after-complete');
      this.log.warn(
        {
          audit: true,
          event: 'failover',
          from,
          to,
          epoch,
          trigger: req.trigger,
          reason: req.reason,
          actor: req.actor,
          duration_ms: record.durationMs,
          rto_ms: record.rtoMs,
          detected_at: new Date(record.timings.detectedAt).toISOString(),
          steps_ms: stepsSinceDetection(record.timings),
        },
        `failover ${from} → ${to} (epoch ${epoch})`,
      );
      this.deps.hooks?.onFlip?.(record);
      return record;
    } finally {
      // A flip that stops early (frozen, failed) still destroys what the drain left.
      afterRoute();
      logDrain();
    }
  }

  /**
   * The flip keeps the traffic on its old site, at its new epoch (decide.ts, rule 5): its target
   * failed before anything was done to the old site, or a required hook of an automatic failback
   * failed. The old site's pools, closed by the drain, are opened again.
   */
  private async stay(base: FlipBase, why: string, hooks: FlipHooks): Promise<FlipRecord> {
    const { from, to, epoch, req } = base;
    for (const b of this.site(from)!.backends) b.backend.reopen();
    const reason = `${req.reason}; stayed on ${from}: ${why}`;
    const fenced = this.state.fenced;
    this.state = { tenant: this.name, epoch, phase: 'active', active: from, fenced, trigger: req.trigger, reason, updated_at: this.state.updated_at };
    this.unavailableSince = 0;
    this.publish();
    const at = this.now();
    this.lastFlipAt = at;
    this.availability.restart(to, at);
    this.log.warn({ audit: true, event: 'failover_stayed', from, to, epoch, trigger: req.trigger, actor: req.actor }, `failover ${from} → ${to} stayed on ${from} (epoch ${epoch}): ${why}`);
    const record = this.record(base, 'stayed', { fencedAt: at, promotedAt: at, routedAt: at }, hooks);
    this.state = await this.commit({ epoch, phase: 'active', active: from, fenced, trigger: req.trigger, reason }, epoch);
    this.deps.hooks?.onFlip?.(record);
    return record;
  }

  private record(base: FlipBase, result: FlipRecord['result'], t: StepTimes, hooks: FlipHooks): FlipRecord {
    const record = flipRecord(this.name, this.cfg.tier, base, result, t, hooks);
    this.flips.push(record);
    if (this.flips.length > MAX_RECORDS) this.flips.shift();
    return record;
  }

  /** A required hook failed mid-flip: no site takes traffic until an operator decides. */
  private async freezeFlip(
    base: FlipBase,
    cause: 'fence_failed' | 'promote_failed',
    message: string,
    hooks: FlipHooks,
  ): Promise<FlipRecord> {
    const at = this.now();
    await this.freeze(cause, message);
    const record = this.record(base, 'frozen', { fencedAt: at, promotedAt: at, routedAt: at }, hooks);
    this.deps.hooks?.onFlip?.(record);
    return record;
  }

  /**
   * Freeze for `no_site` (decide.ts, rule 6) only if, now that its turn has come, the active site
   * is still unavailable and no other site can take over; else decide again.
   */
  private async freezeNoSite(why: string): Promise<void> {
    const now = this.now();
    const s = this.state;
    if (s.phase === 'active' && this.site(s.active)!.health(now).unavailable && !autoTarget(this, now)) await this.freeze('no_site', why);
    else queueMicrotask(() => this.evaluate());
  }

  /** Persist `frozen` and stop routing (503). The epoch stays where it is. */
  private async freeze(cause: NonNullable<TenantState['frozen_cause']>, message: string): Promise<void> {
    const s = this.state;
    if (s.phase === 'frozen' && s.frozen_cause === cause) return;
    this.state = { ...s, phase: 'frozen', frozen_cause: cause, from: undefined, to: undefined, reason: message };
    this.publish();
    this.alert(`tenant frozen: ${message}`);
    this.log.error({ audit: true, event: 'frozen', cause, epoch: s.epoch, active: s.active }, `tenant frozen (${cause})`);
    this.state = await this.commit(
      { epoch: s.epoch, phase: 'frozen', frozen_cause: cause, active: s.active, fenced: s.fenced, trigger: s.trigger, reason: message },
      s.epoch,
    );
  }

  /** Unfreeze a `no_site` freeze only if the active site is still available now (decide.ts, rule 6). */
  private async unfreezeIfAvailable(): Promise<void> {
    const s = this.state;
    const active = this.site(s.active)!;
    if (s.phase !== 'frozen' || s.frozen_cause !== 'no_site' || !active.health(this.now()).available) {
      queueMicrotask(() => this.evaluate());
      return;
    }
    const reason = `site ${active.name} is available again`;
    this.state = { ...s, phase: 'active', frozen_cause: undefined };
    this.publish();
    this.log.warn({ audit: true, event: 'unfrozen', epoch: s.epoch, active: s.active }, `tenant unfrozen: ${reason}`);
    this.alerted = '';
    this.state = await this.commit({ epoch: s.epoch, phase: 'active', active: s.active, fenced: s.fenced, trigger: 'recovery', reason }, s.epoch);
  }

  private async commit(fields: Omit<TenantState, 'tenant' | 'updated_at'>, expected: number | undefined): Promise<TenantState> {
    const next: TenantState = { tenant: this.name, ...fields, updated_at: new Date(this.now()).toISOString() };
    for (const k of ['from', 'to', 'frozen_cause'] as const) if (next[k] === undefined) delete next[k];
    await this.deps.store.commit(next, expected);
    this.deps.hooks?.onState?.(next);
    return next;
  }

  // --- Operator actions (admin API) ------------------------------------------------------------

  private requireSite(name: string): SiteRuntime {
    const s = this.site(name);
    if (!s) throw new DrProxyError('DRP_NOT_FOUND', `tenant ${this.name} has no site ${name}`);
    return s;
  }

  /** Forced failover to `to`, or to the next available site in preference order. */
  operatorFailover(op: OperatorRequest & { to?: string }): Promise<FlipRecord> {
    const to = op.to ?? this.nextSite();
    if (op.to !== undefined) this.requireSite(op.to);
    return this.failover({
      to,
      trigger: 'admin',
      reason: op.reason,
      actor: op.actor,
      force: op.force === true,
      check: () => this.checkTarget(to, op.force === true, false),
    });
  }

  /** Planned failback to the preferred (first) site; it is unfenced by the flip. */
  failback(op: OperatorRequest): Promise<FlipRecord> {
    const to = this.sites[0]!.name;
    return this.failover({
      to,
      trigger: 'failback',
      reason: op.reason,
      actor: op.actor,
      force: op.force === true,
      check: () => {
        if (this.state.active === to && this.state.phase === 'active') throw new DrProxyError('DRP_CONFLICT', `the preferred site ${to} is already active`);
        this.checkTarget(to, op.force === true, true);
      },
    });
  }

  private nextSite(): string {
    const now = this.now();
    const next =
      autoTarget(this, now) ??
      this.sites.find((s) => s.name !== this.state.active && !this.state.fenced.includes(s.name));
    if (!next) throw new DrProxyError('DRP_CONFLICT', `tenant ${this.name} has no other unfenced site to fail over to`);
    return next.name;
  }

  private checkTarget(to: string, force: boolean, fencedOk: boolean): void {
    const site = this.requireSite(to);
    if (to === this.state.active && this.state.phase === 'active') throw new DrProxyError('DRP_CONFLICT', `site ${to} is already active`);
    if (force) return;
    if (!fencedOk && this.state.fenced.includes(to)) {
      throw new DrProxyError('DRP_CONFLICT', `site ${to} is fenced: unfence it first, or pass "force": true`);
    }
    if (site.stale(this.cfg.tier.rpo)) {
      throw new DrProxyError('DRP_CONFLICT', `site ${to} is stale (data older than the ${this.cfg.tier.name} RPO): pass "force": true to fail over anyway`);
    }
    if (!site.health().available) {
      throw new DrProxyError('DRP_CONFLICT', `site ${to} is not available (too few healthy backends): pass "force": true to fail over anyway`);
    }
  }

  /** Fence a site that is not active: it gets no traffic, automatic flips never choose it. */
  fence(siteName: string, op: OperatorRequest): Promise<TenantState> {
    return this.serial(async () => {
      this.requireSite(siteName);
      const s = this.state;
      if (s.active === siteName && s.phase !== 'frozen') throw new DrProxyError('DRP_CONFLICT', `site ${siteName} is active: fail over first`);
      if (s.fenced.includes(siteName)) return s;
      this.state = await this.commit({ ...strip(s), fenced: [...s.fenced, siteName], trigger: 'admin', reason: op.reason }, s.epoch);
      this.publish();
      return this.state;
    });
  }

  /** Lift a fence: the site may be chosen by automatic flips again. */
  unfence(siteName: string, op: OperatorRequest): Promise<TenantState> {
    return this.serial(async () => {
      this.requireSite(siteName);
      const s = this.state;
      if (!s.fenced.includes(siteName)) return s;
      this.state = await this.commit({ ...strip(s), fenced: s.fenced.filter((f) => f !== siteName), trigger: 'admin', reason: op.reason }, s.epoch);
      this.evaluate();
      return this.state;
    });
  }

  /** Take a backend out of rotation (in-flight requests finish) or put it back. */
  setDrained(siteName: string, backendName: string, drained: boolean): BackendRuntime {
    const b = this.requireSite(siteName).backends.find((x) => x.backend.name === backendName);
    if (!b) throw new DrProxyError('DRP_NOT_FOUND', `site ${siteName} of tenant ${this.name} has no backend ${backendName}`);
    b.drained = drained;
    this.evaluate(); // publishes the route without (or with) the backend
    return b;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => {});
    return run;
  }

  // --- Routes --------------------------------------------------------------------------------

  /** Publish the route that the current state and health call for, if it differs. */
  publish(): void {
    const s = this.state;
    if (s === undefined) return;
    this.warmStandby(s.phase === 'frozen' ? undefined : autoTarget(this, this.now()));
    if (s.phase === 'frozen') {
      this.setRoute(this.makeRoute('unavailable', s.active, s.epoch, `tenant is frozen (${s.frozen_cause ?? 'unknown'}): ${s.reason}`));
      return;
    }
    const site = this.site(s.active)!;
    const routable = site.routable();
    const mode: RouteMode = routable.length > 0 ? 'serve' : 'hold';
    const reason = mode === 'hold' ? `no healthy backend in site ${site.name}` : '';
    const standby = this.cfg.failover.mode === 'auto' && autoTarget(this, this.now()) !== undefined;
    this.setRoute(this.makeRoute(mode, site.name, s.epoch, reason, routable.map((b) => b.backend), standby));
  }

  /**
   * Pre-connected sockets (proxy.standby_connections) to the routable backends of the site a
   * flip would choose now. Every other backend closes its own, except the active site's,
   * which stop being replaced but stay for its pool (the burst right after a flip).
   */
  private warmStandby(standby: SiteRuntime | undefined): void {
    const n = this.cfg.proxy.standby_connections;
    if (n === 0) return;
    const warm = standby === undefined ? undefined : new Set(standby.routable());
    const active = this.state.active;
    for (const site of this.sites) {
      for (const b of site.backends) b.backend.setStandby(warm?.has(b) ? n : 0, site.name === active);
    }
  }

  private setRoute(route: TenantRoute): void {
    if (!sameRoute(this.slot.route, route)) this.slot.publish(route);
  }

  private makeRoute(mode: RouteMode, site: string, epoch: number, reason: string, backends: Backend[] = [], standby = false): TenantRoute {
    return buildRoute(this.cfg, this.deps.headers, mode, site, epoch, reason, backends, standby);
  }

  /** Every backend of every site (for shutdown and drains). */
  allBackends(): BackendRuntime[] {
    return this.sites.flatMap((s) => s.backends);
  }

  /** Reload: make no more decisions and wait for the flip or operator action in progress. */
  async quiesce(): Promise<void> {
    this.paused = true;
    await this.chain.catch(() => {});
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
    if (!next) {
      this.slot.publish(this.makeRoute('unavailable', this.state.active, this.state.epoch, 'tenant removed from the config'));
      return;
    }
    this.slot.publish(next.route);
    const off = next.onPublish((r) => this.slot.publish(r));
    setTimeout(off, this.cfg.failover.hold_requests + 1000).unref();
  }

  /** Stop probes and timers; pools close once their in-flight requests are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.evaluateTimer) clearTimeout(this.evaluateTimer);
    for (const o of this.outliers) o.stop();
    await this.chain.catch(() => {});
    for (const b of this.allBackends()) {
      b.health.release();
      void b.backend.close();
    }
  }
}

function strip(s: TenantState): Omit<TenantState, 'tenant' | 'updated_at'> {
  const { tenant: _t, updated_at: _u, ...rest } = s;
  return rest;
}
