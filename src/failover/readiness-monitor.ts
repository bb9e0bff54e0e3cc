/**
 * The readiness monitor of one tenant: every `failover.hook_check_interval` (± 10 % jitter) it
 * sends each configured fence and promote hook a `check` call (hooks.ts, docs/backends.md) and
 * keeps the last answer per hook, which siteReadiness() reads. So a hook that went away is found
 * before a flip needs it, not during it.
 *
 * Off the hot path (control-plane timers only). Never two calls at once to one hook: the next
 * call is scheduled when the previous one ends, and a call lasts at most the hook's timeout; no
 * check starts while the tenant is failing over (the flip calls the hooks for real).
 * Stopped with the controller. A reload carries over the last answer of every hook that did not
 * change (same site, kind, URL, headers and timeout), and waits for the old monitor's call in
 * flight instead of starting a second one.
 */
import type { HookConfig, TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantState } from '../state/types.js';
import { callHook, type HookPayload, type HookResult } from './hooks.js';
import { siteReadiness, type HookCheck, type HookChecks, type SiteReadiness } from './readiness.js';
import type { Scheduler } from './scheduler.js';
import type { SiteRuntime } from './site.js';

type Kind = 'fence' | 'promote';
const KINDS: readonly Kind[] = ['fence', 'promote'];
/** Each wait is the interval ± this fraction, so that many tenants' checks do not line up. */
const JITTER = 0.1;

/** One hook of one site and what its checks said. */
class HookProbe {
  last: HookCheck | undefined;
  inflight: Promise<void> | undefined;
  /** Reload: the previous monitor's call in flight, waited for before this probe's first call. */
  after: Promise<void> | undefined;
  handle: unknown;

  constructor(
    readonly site: string,
    readonly kind: Kind,
    readonly hook: HookConfig,
  ) {}
}

export interface ReadinessMonitorDeps {
  config: TenantConfig;
  sites: readonly SiteRuntime[];
  /** The tenant's current state (its epoch goes into each check call). */
  state: () => TenantState;
  now: () => number;
  scheduler: Scheduler;
  log: Logger;
  /** In [0, 1): the jitter's source (tests pin it). */
  random?: () => number;
  /** The hook call (tests may observe it); callHook by default. */
  call?: (hook: HookConfig, payload: HookPayload) => Promise<HookResult>;
}

export class ReadinessMonitor {
  private readonly probes: HookProbe[];
  private stopped = false;

  constructor(private readonly d: ReadinessMonitorDeps) {
    this.probes = d.config.sites.flatMap((s) => KINDS.filter((k) => s[k] !== undefined).map((k) => new HookProbe(s.name, k, s[k]!)));
  }

  private get interval(): number {
    return this.d.config.failover.hook_check_interval;
  }

  /** Reload: take over the last answers (and the call in flight) of the hooks that did not change. */
  inherit(prev: ReadinessMonitor): void {
    if (this.interval <= 0) return; // checks are off now: an old answer would never be renewed
    for (const p of this.probes) {
      const old = prev.probes.find((o) => o.site === p.site && o.kind === p.kind && JSON.stringify(o.hook) === JSON.stringify(p.hook));
      if (!old) continue;
      p.last = old.last;
      if (old.inflight) p.after = old.inflight.then(() => void (p.last = old.last));
    }
  }

  /** Start the checks (after the tenant's state is loaded); nothing when the interval is 0. */
  start(): void {
    if (this.interval <= 0) return;
    const now = this.d.now();
    for (const p of this.probes) {
      if (p.after) {
        const after = p.after;
        p.after = undefined;
        p.inflight = after.finally(() => (p.inflight = undefined));
        void p.inflight.then(() => this.schedule(p, this.wait()));
      } else if (p.last) this.schedule(p, Math.max(0, p.last.at + this.wait() - now));
      // The first check soon, spread over a tenth of the interval (a fleet starts at once).
      else this.schedule(p, this.interval * JITTER * this.random());
    }
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.probes) this.unschedule(p);
  }

  /** The last check of each hook of `site` (undefined: not checked yet, or checks are off). */
  checks(site: string): HookChecks {
    const out: HookChecks = {};
    for (const p of this.probes) if (p.site === site && p.last) out[p.kind] = p.last;
    return out;
  }

  /** Standby readiness of `site` now (readiness.ts), with the hooks' last answers. */
  readiness(site: SiteRuntime, now = this.d.now()): SiteReadiness {
    return siteReadiness({ site, config: this.d.config, state: this.d.state(), hooks: this.checks(site.name), now });
  }

  /**
   * Check the hooks of `site` (all sites when omitted) now rather than at their next turn, and
   * resolve when every answer is in (a drill's preflight wants fresh answers). A call already in
   * flight is waited for, not doubled. Nothing when checks are off.
   */
  async refresh(site?: string): Promise<void> {
    if (this.interval <= 0 || this.stopped) return;
    await Promise.all(
      this.probes
        .filter((p) => site === undefined || p.site === site)
        .map((p) => {
          if (p.inflight) return p.inflight;
          this.unschedule(p);
          return this.run(p);
        }),
    );
  }

  private random(): number {
    return (this.d.random ?? Math.random)();
  }

  private wait(): number {
    return this.interval * (1 - JITTER + 2 * JITTER * this.random());
  }

  private schedule(p: HookProbe, ms: number): void {
    if (this.stopped) return;
    this.unschedule(p);
    p.handle = this.d.scheduler.setTimeout(() => {
      p.handle = undefined;
      void this.run(p);
    }, ms);
  }

  private unschedule(p: HookProbe): void {
    if (p.handle !== undefined) this.d.scheduler.clearTimeout(p.handle);
    p.handle = undefined;
  }

  /** One check call; the next is scheduled when it ends (no overlap). */
  private run(p: HookProbe): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (p.inflight) return p.inflight;
    p.inflight = this.call(p).finally(() => {
      p.inflight = undefined;
      this.schedule(p, this.wait());
    });
    return p.inflight;
  }

  private async call(p: HookProbe): Promise<void> {
    const state = this.d.state();
    // A flip is calling the hooks for real: no check beside it (its answer is kept until the next turn).
    if (state.phase === 'failing_over') return;
    const payload: HookPayload = { action: 'check', tenant: this.d.config.name, site: p.site, epoch: state.epoch };
    const r = await (this.d.call ?? callHook)(p.hook, payload);
    const was = p.last;
    p.last = { ok: r.ok, at: this.d.now(), ...(r.error !== undefined && { error: r.error }) };
    if (this.stopped || (was !== undefined && was.ok === r.ok)) return;
    const fields = { site: p.site, hook: p.kind, url: p.hook.url, error: r.error };
    // Logged when the answer changes, not at every check of a hook that stays down.
    if (!r.ok) this.d.log.warn(fields, `${p.kind} hook of site ${p.site} failed its check call: the site is not ready for a flip`);
    else if (was !== undefined) this.d.log.info(fields, `${p.kind} hook of site ${p.site} answers its check call again`);
  }
}
