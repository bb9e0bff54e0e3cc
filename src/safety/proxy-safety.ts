/**
 * The safety rules of one proxy, wired in one place so that the composition root (drproxy.ts)
 * stays a few lines: the gate the tenant controllers consult (gate.ts), where the kill switch
 * is persisted (embedded: its file; clustered: its etcd key, cluster/kill-switch-store.ts), the
 * metrics, and what the admin API calls. The admin API does not need to know which.
 */
import { Serial } from '../serial.js';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { SILENT_NOTIFIER, type Notifier } from '../notify/events.js';
import { DrProxyError } from '../errors.js';
import { KillSwitchFile, type AutomaticState, type AutomaticStore } from './kill-switch.js';
import { SafetyGate } from './gate.js';
import type { BreakerRule } from './breaker.js';

export interface ProxySafetyOptions {
  logger: Logger;
  registry: Registry;
  now: () => number;
  fleetSize: () => number;
  notifier?: Notifier;
}

export class ProxySafety {
  readonly gate: SafetyGate;
  /** Where the switch is persisted; set by start(). */
  private store: AutomaticStore | undefined;
  /** Switches are applied one at a time, in order. */
  private readonly queue = new Serial();

  constructor(private readonly o: ProxySafetyOptions) {
    this.gate = new SafetyGate({ logger: o.logger, notifier: o.notifier ?? SILENT_NOTIFIER, now: o.now, fleetSize: o.fleetSize });
    const registers = [o.registry];
    const gate = this.gate;
    new Gauge({ name: 'drproxy_automatic_failover_enabled', help: 'Automatic failover is on (1) or turned off by the kill switch (0)', registers, collect() { this.set(gate.automatic.enabled ? 1 : 0); } });
    new Gauge({ name: 'drproxy_safety_breaker_tripped', help: 'The fleet breaker (safety.max_auto_failovers) is tripped (1) or not (0)', registers, collect() { this.set(gate.breaker?.tripped ? 1 : 0); } });
    new Gauge({ name: 'drproxy_safety_held_flips', help: 'Automatic flips held by the kill switch or the fleet breaker', registers, collect() { this.set(gate.heldTenants().length); } });
  }

  /** Before the tenants start: read the kill switch (embedded: the state directory `where`; clustered: its etcd store). */
  async start(where: string | AutomaticStore, rule: BreakerRule | undefined): Promise<void> {
    this.gate.configure(rule);
    const store: AutomaticStore = (this.store = typeof where === 'string' ? new KillSwitchFile(where) : where);
    const { state, problem } = await store.load();
    if (problem) this.o.logger.error({ alert: true, event: 'kill_switch_unreadable' }, problem);
    this.gate.automatic = state;
    // Clustered: another replica's switch (or the key readable again) applies here too.
    store.onChange?.((s) => void this.queue.run(() => this.apply(s, true)));
    if (!state.enabled) this.o.logger.error({ alert: true, event: 'automatic_failover', enabled: false, by: state.by, reason: state.reason, at: state.at }, `automatic flips are OFF (kill switch, by ${state.by} at ${state.at}: ${state.reason}); operator flips still work`);
  }

  /** POST /automatic: persisted first, then applied. */
  setAutomatic(enabled: boolean, by: string, reason: string): Promise<AutomaticState> {
    return this.queue.run(async () => {
      const store = this.store;
      if (store === undefined) throw new DrProxyError('DRP_CONFLICT', 'the kill switch is not loaded yet (drproxy is starting): try again in a moment');
      const s: AutomaticState = { enabled, reason, by, at: new Date(this.o.now()).toISOString() };
      const current = (await store.save(s)) ?? s;
      this.apply(current, current !== s);
      return s;
    });
  }

  /** Applies a switch unless it is the one applied already (an own write seen again in etcd). */
  private apply(s: AutomaticState, seenElsewhere: boolean): void {
    const a = this.gate.automatic;
    if (a.enabled === s.enabled && a.reason === s.reason && a.by === s.by && a.at === s.at) return;
    this.gate.setAutomatic(s, seenElsewhere);
  }

  close(): Promise<void> {
    return this.store?.close() ?? Promise.resolve();
  }
}
