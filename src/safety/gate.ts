/**
 * The fleet-wide gate every tenant controller consults before it starts an automatic flip
 * (ControllerDeps.safety): the kill switch (kill-switch.ts) and the fleet breaker (breaker.ts).
 * A held flip is not started; the controller keeps watching health and logs the gate's alert.
 * The gate remembers how to make each held tenant decide again, and does so when the switch
 * is turned on or an operator confirms: a tenant that still wants its flip then flips.
 * Operator flips never pass here.
 */
import type { Logger } from '../log.js';
import type { Notifier } from '../notify/events.js';
import type { FlipAction } from '../failover/decide.js';
import { AUTOMATIC_ON, type AutomaticState } from './kill-switch.js';
import { FleetBreaker, type BreakerRule, type BreakerTrip } from './breaker.js';

/** What a tenant controller sees of the gate. */
export interface AutomaticGate {
  /** True: the automatic flip is held (not started) and `alert` was told why; `retry` decides again once released. */
  held(tenant: string, action: FlipAction, retry: () => void, alert: (message: string) => void): boolean;
}

export interface SafetyGateOptions {
  logger: Logger;
  notifier: Notifier;
  now: () => number;
  /** Tenants in the fleet (a percent rule's base). */
  fleetSize: () => number;
}

export class SafetyGate implements AutomaticGate {
  automatic: AutomaticState = AUTOMATIC_ON;
  breaker: FleetBreaker | undefined;
  /** Tenants whose automatic flip is held, and how to make each decide again. */
  private readonly waiting = new Map<string, () => void>();
  /** Released tenants whose held-flip alert is still standing: cleared when they decide next. */
  private readonly released = new Set<string>();

  constructor(private readonly o: SafetyGateOptions) {}

  /** safety.max_auto_failovers (start and reload); undefined: no breaker. A reload keeps a standing trip's hold only if the rule is unchanged. */
  configure(rule: BreakerRule | undefined): void {
    const same = this.breaker && rule && JSON.stringify(this.breaker.rule) === JSON.stringify(rule);
    if (same) return;
    this.breaker = rule && new FleetBreaker(rule, this.o.fleetSize, this.o.now, (t) => this.tripped(t));
    if (!this.breaker?.tripped) this.releaseHeld();
  }

  held(tenant: string, action: FlipAction, retry: () => void, alert: (message: string) => void): boolean {
    const why = this.why(tenant, action);
    if (why === undefined) {
      if (this.waiting.delete(tenant) || this.released.delete(tenant)) alert('');
      return false;
    }
    this.waiting.set(tenant, retry);
    alert(why);
    return true;
  }

  private why(tenant: string, action: FlipAction): string | undefined {
    const a = this.automatic;
    if (!a.enabled) {
      return `automatic flips are OFF (kill switch${a.by ? `, by ${a.by}` : ''}${a.reason ? `: ${a.reason}` : ''}): flip to ${action.to} (${action.reason}) not started; health is still watched; an operator may flip or turn automatic flips on (POST /automatic)`;
    }
    if (this.breaker && !this.breaker.admit(tenant)) {
      return `fleet breaker tripped (safety.max_auto_failovers, confirm): flip to ${action.to} (${action.reason}) held until an operator confirms (POST /safety/confirm or drproxy confirm)`;
    }
    return undefined;
  }

  /**
   * Turn automatic flips on or off (already persisted by the caller). On: held tenants decide
   * again. `seenElsewhere`: switched through another replica (clustered; that one audits it).
   */
  setAutomatic(s: AutomaticState, seenElsewhere = false): void {
    this.automatic = s;
    const fields = { alert: true, ...(!seenElsewhere && { audit: true }), event: 'automatic_failover', enabled: s.enabled, by: s.by, reason: s.reason };
    const where = seenElsewhere ? ' (seen in etcd)' : '';
    if (s.enabled) {
      this.o.logger.warn(fields, `automatic flips turned ON by ${s.by}${where}: ${s.reason}`);
      this.releaseHeld();
    } else this.o.logger.error(fields, `automatic flips turned OFF by ${s.by}${where}: ${s.reason}; operator flips still work`);
  }

  /** An operator confirms a tripped breaker: the held tenants decide again and flip if still wanted. Returns them. */
  confirm(by: string, reason: string): string[] {
    const tenants = [...this.waiting.keys()];
    this.breaker?.confirm(this.automatic.enabled ? tenants : []);
    this.o.logger.warn({ alert: true, audit: true, event: 'safety_confirmed', by, reason, tenants: tenants.slice(0, 50), count: tenants.length }, `fleet breaker confirmed by ${by}: ${tenants.length} held automatic flip(s) released: ${reason}`);
    if (this.automatic.enabled) this.releaseHeld();
    return tenants;
  }

  /** Held tenants now. */
  heldTenants(): string[] {
    return [...this.waiting.keys()];
  }

  /** /status `automatic` and `safety`. */
  statusJson(): { automatic: AutomaticState; safety: Record<string, unknown> } {
    const b = this.breaker;
    const breaker = b && {
      rule: b.rule,
      threshold: b.threshold(),
      started_in_window: b.inWindow(),
      tripped: b.tripped !== undefined,
      ...(b.tripped && { tripped_at: new Date(b.tripped.at).toISOString() }),
    };
    return { automatic: { ...this.automatic }, safety: { breaker: breaker ?? null, held: this.heldTenants() } };
  }

  private tripped(t: BreakerTrip): void {
    const what = t.action === 'proceed' ? 'they proceed (rule: proceed): a region failure is being failed over' : 'further automatic flips are HELD until an operator confirms (POST /safety/confirm or drproxy confirm --reason …)';
    const summary = `fleet breaker tripped: ${t.started} automatic flips started within ${t.threshold} allowed per window; ${what}`;
    this.o.logger.error({ alert: true, event: 'safety_rule_tripped', rule: 'max_auto_failovers', ...t }, summary);
    this.o.notifier.emit({ kind: 'safety_rule_tripped', at: t.at, summary, severity: 'critical', dedup_key: 'safety:max_auto_failovers', details: { rule: 'max_auto_failovers', started: t.started, threshold: t.threshold, action: t.action } });
  }

  private releaseHeld(): void {
    const retries = [...this.waiting.values()];
    for (const t of this.waiting.keys()) this.released.add(t);
    this.waiting.clear();
    for (const r of retries) queueMicrotask(r);
  }
}
