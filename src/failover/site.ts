/**
 * A site as the control plane sees it: its backends with their health, and whether the site is
 * available (at least `min_healthy` backends up).
 */
import type { MinHealthy, SiteConfig } from '../config/types.js';
import type { HealthHandle } from '../health/registry.js';
import type { HealthState } from '../health/hysteresis.js';
import type { Backend } from '../proxy/backend.js';
import { isEjected, type Ejectable } from '../health/outlier.js';
import { detectionStart } from './detection-start.js';

export interface BackendRuntime {
  readonly backend: Backend;
  readonly health: HealthHandle;
  /** Taken out of rotation by an operator (admin drain). */
  drained: boolean;
  /** Passive health: ejection state. */
  readonly passive: Ejectable;
  /** Detection start of the current ejection (first failure of the passive streak). */
  ejectedSince: number;
  /** A probe is confirming this backend's slow answers (passive_health.slow_confirm). */
  confirming: boolean;
}

export interface SiteHealth {
  up: number;
  down: number;
  unknown: number;
  total: number;
  /** Backends needed up for the site to be available. */
  need: number;
  /** At least `need` backends are up. */
  available: boolean;
  /** So many are down that the site cannot be available, even if every unknown came up. */
  unavailable: boolean;
}

/**
 * A site's health at one moment, as the decisions read it (decide.ts): built once per evaluation
 * from the site's runtime here; in clustered mode, the quorum view of the replicas.
 */
export interface SiteSnapshot extends SiteHealth {
  readonly name: string;
  /** Data older than the tier's RPO. */
  readonly stale: boolean;
  /** Detection start of the current unavailability (detection-start.ts), 0 when none or unknown. */
  readonly detectionStart: number;
}

/** Every site of a tenant, in preference order, at `at`. */
export interface HealthSnapshot {
  readonly at: number;
  readonly sites: readonly SiteSnapshot[];
}

export function snapshotSites(sites: readonly SiteRuntime[], now: number, rpoMs: number): HealthSnapshot {
  return { at: now, sites: sites.map((s) => s.snapshot(now, rpoMs)) };
}

export class SiteRuntime {
  constructor(
    readonly cfg: SiteConfig,
    readonly backends: readonly BackendRuntime[],
  ) {}

  get name(): string {
    return this.cfg.name;
  }

  /** Health as routing sees it: drained and ejected backends count as down. */
  stateOf(b: BackendRuntime, now = Date.now()): HealthState {
    if (b.drained || isEjected(b.passive, now)) return 'down';
    return b.health.check.state;
  }

  health(now = Date.now()): SiteHealth {
    let up = 0;
    let down = 0;
    let unknown = 0;
    for (const b of this.backends) {
      const s = this.stateOf(b, now);
      if (s === 'up') up++;
      else if (s === 'down') down++;
      else unknown++;
    }
    const total = this.backends.length;
    const need = minHealthyCount(this.cfg.min_healthy, total);
    return { up, down, unknown, total, need, available: up >= need, unavailable: up + unknown < need };
  }

  snapshot(now: number, rpoMs: number): SiteSnapshot {
    const h = this.health(now);
    // Only an unavailable site has a detection start (detection-start.ts): skip its sort otherwise.
    return { name: this.name, ...h, stale: this.stale(rpoMs), detectionStart: h.unavailable ? detectionStart(this, now) : 0 };
  }

  /** Backends that may take traffic: not drained, not known down. */
  routable(now = Date.now()): BackendRuntime[] {
    return this.backends.filter((b) => this.stateOf(b, now) !== 'down');
  }

  /** Every backend's active checks say down (the site is confirmed down, whatever its hooks say). */
  confirmedDown(): boolean {
    return this.backends.every((b) => b.health.check.state === 'down');
  }

  /** Data older than the tier's RPO (ms): automatic flips must not choose this site. */
  stale(rpoMs: number): boolean {
    const age = this.dataAgeSeconds();
    return age !== undefined && age * 1000 > rpoMs;
  }

  /**
   * Detection start of the site's current unavailability: the first failure of the streak of
   * the backend that took it below min_healthy (detection-start.ts), or 0.
   */
  detectionStart(now = Date.now()): number {
    return detectionStart(this, now);
  }

  /** Latest data age (seconds) reported by any backend of the site, if reported. */
  dataAgeSeconds(): number | undefined {
    let age: number | undefined;
    for (const b of this.backends) {
      const a = b.health.check.lastResult?.dataAgeSeconds;
      if (a !== undefined && (age === undefined || a < age)) age = a;
    }
    return age;
  }
}

export function minHealthyCount(min: MinHealthy, total: number): number {
  if (min.kind === 'count') return min.value;
  return Math.max(1, Math.ceil(min.value * total - 1e-9));
}
