/** What a tenant controller is given (the composition root builds it), and the hooks it calls. */
import type { HeaderNames } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantState } from '../state/types.js';
import type { Coordinator } from '../state/coordinator.js';
import type { HealthRegistry } from '../health/registry.js';
import type { CheckResult } from '../health/active-check.js';
import type { HealthState } from '../health/hysteresis.js';
import type { PassiveFailure } from '../proxy/backend.js';
import type { UpgradeRegistry } from './drain.js';
import type { FlipRecord } from './flip.js';
import type { Scheduler } from './scheduler.js';
import type { VoteBoard } from './quorum-view.js';
import type { AutomaticGate } from '../safety/gate.js';

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
  /** An automatic flip was refused by a per-flip safety rule (flip-rules.ts): told once while it stands. */
  onSafetyRule?(trip: import('./flip-rules.js').RuleTrip): void;
}

export interface ControllerDeps {
  coordinator: Coordinator;
  health: HealthRegistry;
  logger: Logger;
  headers: HeaderNames;
  hooks?: ControllerHooks;
  upgrades?: UpgradeRegistry;
  now?: () => number;
  /** Timers of the decisions' waits (tests drive them); the real ones by default. */
  scheduler?: Scheduler;
  /**
   * Clustered: carry out an operator action on the leader when this replica may not decide
   * (cluster/proposals.ts); resolves with the leader's answer. Unset in embedded mode.
   */
  forward?: (tenant: string, action: 'failover' | 'failback' | 'fence' | 'unfence', op: Record<string, unknown>) => Promise<unknown>;
  /**
   * Clustered: health by quorum (quorum-view.ts): this replica votes, and decisions read the
   * quorum view of every live replica's votes. Unset in embedded mode (own health decides).
   */
  votes?: VoteBoard;
  /** The fleet's safety rules (src/safety/): consulted before every automatic flip starts; unset, none hold it. */
  safety?: AutomaticGate;
}
