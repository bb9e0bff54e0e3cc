/**
 * The control plane of one tenant: it watches its sites' health, decides when to flip, runs
 * flips one at a time in the design's order, persists the epoch before any routing change, and
 * publishes the tenant's route for the data plane.
 *
 * States: active(site, epoch) → failing_over(from, to, epoch+1) → active(to, epoch+1), and
 * frozen when no site can take traffic. The site that lost traffic is fenced until an operator
 * unfences it or fails back to it.
 */
import type { HeaderNames, TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { StateStore, TenantState } from '../state/types.js';
import type { HealthRegistry } from '../health/registry.js';
import type { CheckResult } from '../health/active-check.js';
import type { HealthState } from '../health/hysteresis.js';
import { Backend } from '../proxy/backend.js';
import { createBalancer } from '../proxy/balancer.js';
import { TenantSlot, type RouteMode, type TenantRoute } from '../proxy/route.js';
import { SiteRuntime, type BackendRuntime } from './site.js';
import type { FlipRecord, FlipTrigger } from './flip.js';

export interface ControllerHooks {
  /** A flip finished (or froze); its record holds the timings. */
  onFlip?(record: FlipRecord): void;
  /** A backend's health changed state. */
  onBackendState?(tenant: string, site: string, backend: string, state: HealthState, result: CheckResult): void;
  /** A probe finished (for metrics). */
  onCheck?(tenant: string, site: string, backend: string, result: CheckResult): void;
}

export interface ControllerDeps {
  store: StateStore;
  health: HealthRegistry;
  logger: Logger;
  headers: HeaderNames;
  hooks?: ControllerHooks;
  now?: () => number;
}

export interface FlipRequest {
  to: string;
  trigger: FlipTrigger;
  reason: string;
  actor?: string;
  /** Detection start (first failed check) for automatic flips; defaults to the request time. */
  detectedAt?: number;
}

const MAX_RECORDS = 20;

export class TenantController {
  readonly name: string;
  readonly slot: TenantSlot;
  readonly sites: SiteRuntime[];
  state!: TenantState;
  /** Most recent flips, newest last. */
  readonly flips: FlipRecord[] = [];
  private cfg: TenantConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private chain: Promise<unknown> = Promise.resolve();
  private flipping = false;
  private lastFlipAt = 0;
  private evaluateTimer: NodeJS.Timeout | undefined;
  private stopped = false;
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

  /** Load (or create) the tenant's persisted state and publish its first route. */
  static async create(cfg: TenantConfig, deps: ControllerDeps): Promise<TenantController> {
    const c = new TenantController(cfg, deps);
    await c.init();
    return c;
  }

  get config(): TenantConfig {
    return this.cfg;
  }

  site(name: string): SiteRuntime | undefined {
    return this.sites.find((s) => s.name === name);
  }

  private buildSite(cfg: TenantConfig['sites'][number]): SiteRuntime {
    const backends: BackendRuntime[] = cfg.backends.map((bc) => {
      const backend = new Backend(this.cfg.name, cfg.name, bc, this.cfg.proxy);
      const runtime: BackendRuntime = {
        backend,
        drained: false,
        health: this.deps.health.acquire(bc.origin, cfg.health_check, {
          onResult: (result, state, changed) => this.onHealth(cfg.name, runtime, result, state, changed),
        }),
      };
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
    if (this.state.phase === 'failing_over' && this.state.to && this.site(this.state.to)) {
      // A flip was interrupted after its epoch was persisted: finish it, never go back.
      const to = this.state.to;
      this.log.warn({ epoch: this.state.epoch, from: this.state.from, to }, 'resuming an interrupted failover');
      await this.finishFlip(this.state.from ?? this.state.active, to, this.state.epoch, {
        to,
        trigger: 'recovery',
        reason: `resumed after restart: ${this.state.reason}`,
      }, this.now());
    } else if (!this.site(this.state.active) || this.state.phase === 'failing_over') {
      // The active site is gone from the config: move to the first remaining site, new epoch.
      const target = this.sites.find((s) => !this.state.fenced.includes(s.name)) ?? this.sites[0]!;
      this.log.warn({ missing: this.state.active, to: target.name }, 'active site is not in the config; moving');
      const epoch = this.state.epoch + 1;
      this.state = await this.commit(
        { epoch, phase: 'active', active: target.name, fenced: this.state.fenced, trigger: 'config', reason: `site ${this.state.active} removed from config` },
        this.state.epoch,
      );
    }
    this.publish();
  }

  /** Health results from the probes of one backend. */
  private onHealth(site: string, b: BackendRuntime, result: CheckResult, state: HealthState, changed: boolean): void {
    if (this.stopped) return;
    this.deps.hooks?.onCheck?.(this.name, site, b.backend.name, result);
    if (!changed) return;
    const fields = { site, backend: b.backend.name, state, status: result.status, error: result.error };
    if (state === 'down') this.log.warn(fields, 'backend down');
    else this.log.info(fields, `backend ${state}`);
    this.deps.hooks?.onBackendState?.(this.name, site, b.backend.name, state, result);
    this.evaluate();
  }

  /**
   * Decide what the tenant should do now. Cheap and idempotent: called after every health
   * change and when a hold-down or minimum interval ends.
   */
  evaluate(): void {
    if (this.stopped || this.flipping) return;
    const active = this.site(this.state.active)!;
    const health = active.health();
    if (this.state.phase === 'frozen') {
      const target = this.autoTarget();
      if (target) this.startFlip({ to: target.name, trigger: 'recovery', reason: 'a site is available again' });
      else this.publish();
      return;
    }
    if (!health.unavailable) {
      this.alert('');
      this.publish();
      return;
    }
    // The active site cannot take traffic.
    this.publish();
    const cfg = this.cfg.failover;
    if (cfg.mode === 'manual') {
      this.alert(`active site ${active.name} is unavailable and the tenant is in manual mode: waiting for an operator`);
      return;
    }
    const wait = this.lastFlipAt + cfg.min_interval - this.now();
    if (this.lastFlipAt !== 0 && wait > 0) {
      this.alert(`active site ${active.name} is unavailable; next failover allowed in ${Math.ceil(wait / 1000)}s (min_interval)`);
      this.evaluateLater(wait);
      return;
    }
    const target = this.autoTarget();
    if (!target) {
      this.alert(`active site ${active.name} is unavailable and no other site is available`);
      return;
    }
    this.startFlip({
      to: target.name,
      trigger: 'health',
      reason: `site ${active.name} unavailable (${health.up}/${health.total} backends up, ${health.need} needed)`,
      detectedAt: active.detectionStart() || this.now(),
    });
  }

  /** First available site in preference order that an automatic flip may choose. */
  private autoTarget(): SiteRuntime | undefined {
    return this.sites.find(
      (s) => s.name !== this.state.active && !this.state.fenced.includes(s.name) && s.health().available,
    );
  }

  private alert(message: string): void {
    if (message === this.alerted) return;
    this.alerted = message;
    if (message !== '') this.log.error({ alert: true }, message);
  }

  private evaluateLater(ms: number): void {
    if (this.evaluateTimer) return;
    this.evaluateTimer = setTimeout(() => {
      this.evaluateTimer = undefined;
      this.evaluate();
    }, ms + 5);
    this.evaluateTimer.unref();
  }

  private startFlip(req: FlipRequest): void {
    void this.failover(req).catch((err: unknown) => {
      this.log.error({ err }, 'failover failed');
    });
  }

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
    const from = this.state.active;
    if (req.to === from && this.state.phase === 'active') {
      throw Object.assign(new Error(`site ${req.to} is already active`), { code: 'DRP_ALREADY_ACTIVE' });
    }
    this.flipping = true;
    try {
      const epoch = this.state.epoch + 1;
      // 1. Persist the new epoch and the intent before any routing changes.
      this.state = await this.commit(
        { epoch, phase: 'failing_over', active: from, from, to: req.to, fenced: this.state.fenced, trigger: req.trigger, reason: req.reason },
        this.state.epoch,
      );
      return await this.finishFlip(from, req.to, epoch, req, requestedAt);
    } finally {
      this.flipping = false;
    }
  }

  /** Steps 2-6 of a flip whose intent and epoch are already persisted. */
  private async finishFlip(from: string, to: string, epoch: number, req: FlipRequest, requestedAt: number): Promise<FlipRecord> {
    const persistedAt = this.now();
    // 2. Stop sending new requests to the old site: they are held until the new route is out.
    this.slot.publish(this.makeRoute('hold', from, epoch, `failing over from ${from} to ${to}`));
    const drainedAt = this.now();
    const fencedAt = drainedAt;
    const promotedAt = drainedAt;
    // 6. Route to the new site and release held requests (the slot's publication does both).
    const fenced = [...this.state.fenced.filter((s) => s !== to && s !== from), ...(from !== to ? [from] : [])];
    this.state = { ...this.state, phase: 'active', active: to, fenced, from: undefined, to: undefined };
    this.publish();
    const routedAt = this.now();
    this.lastFlipAt = routedAt;
    this.alerted = '';
    const detectedAt = req.detectedAt ?? requestedAt;
    const record: FlipRecord = {
      tenant: this.name,
      tier: this.cfg.tier.name,
      from,
      to,
      epoch,
      trigger: req.trigger,
      reason: req.reason,
      actor: req.actor,
      result: 'routed',
      timings: { detectedAt, trippedAt: requestedAt, persistedAt, drainedAt, fencedAt, promotedAt, routedAt },
      durationMs: routedAt - detectedAt,
      rtoMs: this.cfg.tier.rto,
    };
    this.remember(record);
    // Record completion; the epoch itself was durable before any routing changed.
    this.state = await this.commit(
      { epoch, phase: 'active', active: to, fenced, trigger: req.trigger, reason: req.reason },
      epoch,
    );
    this.log.warn(
      { audit: true, event: 'failover', from, to, epoch, trigger: req.trigger, reason: req.reason, actor: req.actor, duration_ms: record.durationMs },
      `failover ${from} → ${to} (epoch ${epoch})`,
    );
    this.deps.hooks?.onFlip?.(record);
    return record;
  }

  private remember(record: FlipRecord): void {
    this.flips.push(record);
    if (this.flips.length > MAX_RECORDS) this.flips.shift();
  }

  private async commit(
    fields: Omit<TenantState, 'tenant' | 'updated_at'>,
    expected: number | undefined,
  ): Promise<TenantState> {
    const next: TenantState = { tenant: this.name, ...fields, updated_at: new Date(this.now()).toISOString() };
    if (next.from === undefined) delete next.from;
    if (next.to === undefined) delete next.to;
    await this.deps.store.commit(next, expected);
    return next;
  }

  /** Publish the route that the current state and health call for, if it differs. */
  publish(): void {
    const s = this.state;
    const site = this.site(s.active)!;
    if (s.phase === 'frozen') {
      this.setRoute(this.makeRoute('unavailable', s.active, s.epoch, 'tenant is frozen: no site can take its traffic'));
      return;
    }
    const routable = site.routable();
    const mode: RouteMode = routable.length > 0 ? 'serve' : 'hold';
    const reason = mode === 'hold' ? `no healthy backend in site ${site.name}` : '';
    this.setRoute(this.makeRoute(mode, site.name, s.epoch, reason, routable.map((b) => b.backend)));
  }

  private setRoute(route: TenantRoute): void {
    const cur = this.slot.route;
    if (
      cur.mode === route.mode &&
      cur.epoch === route.epoch &&
      cur.site === route.site &&
      cur.reason === route.reason &&
      sameList(cur.backends, route.backends)
    ) {
      return;
    }
    this.slot.publish(route);
  }

  private makeRoute(mode: RouteMode, site: string, epoch: number, reason: string, backends: Backend[] = []): TenantRoute {
    const cfg = this.cfg;
    return Object.freeze({
      tenant: cfg.name,
      mode,
      epoch,
      site,
      stamp: Object.freeze([this.deps.headers.epoch, String(epoch), this.deps.headers.site, site]),
      backends: Object.freeze(backends),
      balancer: createBalancer(cfg.proxy.balance, backends),
      proxy: cfg.proxy,
      reason,
      holdMs: cfg.failover.hold_requests,
      holdMax: cfg.failover.hold_max,
    });
  }

  /** Every backend of every site (for shutdown and drains). */
  allBackends(): BackendRuntime[] {
    return this.sites.flatMap((s) => s.backends);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.evaluateTimer) clearTimeout(this.evaluateTimer);
    await this.chain.catch(() => {});
    for (const b of this.allBackends()) b.health.release();
    await Promise.all(this.allBackends().map((b) => b.backend.close()));
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
