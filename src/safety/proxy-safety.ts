/**
 * The safety rules of one proxy, wired in one place so that the composition root (drproxy.ts)
 * stays a few lines: the gate the tenant controllers consult (gate.ts), the kill switch's
 * file (embedded mode), the metrics, and what the admin API calls.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { SILENT_NOTIFIER, type Notifier } from '../notify/events.js';
import { DrProxyError } from '../errors.js';
import { KillSwitchFile, type AutomaticState } from './kill-switch.js';
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
  /** Embedded mode only; clustered, the switch cannot be turned (yet) and stays on. */
  private file: KillSwitchFile | undefined;
  private clustered = false;
  /** Switches are applied one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ProxySafetyOptions) {
    this.gate = new SafetyGate({ logger: o.logger, notifier: o.notifier ?? SILENT_NOTIFIER, now: o.now, fleetSize: o.fleetSize });
    const registers = [o.registry];
    const gate = this.gate;
    new Gauge({ name: 'drproxy_automatic_failover_enabled', help: 'Automatic failover is on (1) or turned off by the kill switch (0)', registers, collect() { this.set(gate.automatic.enabled ? 1 : 0); } });
    new Gauge({ name: 'drproxy_safety_breaker_tripped', help: 'The fleet breaker (safety.max_auto_failovers) is tripped (1) or not (0)', registers, collect() { this.set(gate.breaker?.tripped ? 1 : 0); } });
    new Gauge({ name: 'drproxy_safety_held_flips', help: 'Automatic flips held by the kill switch or the fleet breaker', registers, collect() { this.set(gate.heldTenants().length); } });
  }

  /** Before the tenants start: read the kill switch (embedded: `stateDir`; clustered: undefined). */
  async start(stateDir: string | undefined, rule: BreakerRule | undefined): Promise<void> {
    this.gate.configure(rule);
    if (stateDir === undefined) {
      this.clustered = true;
      return;
    }
    this.file = new KillSwitchFile(stateDir);
    const { state, problem } = await this.file.load();
    if (problem) this.o.logger.error({ alert: true, event: 'kill_switch_unreadable' }, problem);
    this.gate.automatic = state;
    if (!state.enabled) this.o.logger.error({ alert: true, event: 'automatic_failover', enabled: false, by: state.by, reason: state.reason, at: state.at }, `automatic flips are OFF (kill switch, by ${state.by} at ${state.at}: ${state.reason}); operator flips still work`);
  }

  /** POST /automatic: persisted first, then applied. */
  setAutomatic(enabled: boolean, by: string, reason: string): Promise<AutomaticState> {
    const run = this.chain.then(async () => {
      const file = this.file;
      if (this.clustered || file === undefined) throw new DrProxyError('DRP_CONFLICT', 'the kill switch is not available in clustered mode yet (state.etcd): automatic flips stay on; use fences or operator flips during the maintenance');
      const s: AutomaticState = { enabled, reason, by, at: new Date(this.o.now()).toISOString() };
      await file.save(s);
      this.gate.setAutomatic(s);
      return s;
    });
    this.chain = run.catch(() => {});
    return run;
  }

  close(): Promise<void> {
    return this.file?.close() ?? Promise.resolve();
  }
}
