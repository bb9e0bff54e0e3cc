/**
 * A tenant's state made settled by the process that decides: at start (embedded mode, or the
 * leader) and when a replica takes over as leader (clustered). No state yet → the first one;
 * an interrupted flip (failing_over) → finished at its persisted epoch, never rolled back; a
 * state lost → stays frozen with its alert; an active site gone from the config → the first
 * remaining site, at a new epoch. Then the state's route is published.
 */
import type { TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { TenantState } from '../state/types.js';
import type { FlipRunner } from './flip-runner.js';
import type { SiteRuntime } from './site.js';

export interface SettleContext {
  readonly cfg: TenantConfig;
  readonly sites: readonly SiteRuntime[];
  readonly runner: FlipRunner;
  readonly log: Logger;
  state(): TenantState;
  adopt(s: TenantState): void;
  alert(message: string): void;
  /** Runs a resumed flip as the controller's flip (no decision meanwhile). */
  asFlip(run: () => Promise<unknown>): Promise<void>;
  publish(): void;
}

/** `why`: how the resumed flip's reason begins ("resumed after restart", "finished by the new leader"). */
export async function settle(x: SettleContext, stored: TenantState | undefined, why: string): Promise<void> {
  const site = (name: string): SiteRuntime | undefined => x.sites.find((s) => s.name === name);
  if (!stored) {
    const first = x.cfg.sites[0]!.name;
    await x.runner.commit({ epoch: 1, phase: 'active', active: first, fenced: [], trigger: 'startup', reason: 'first start' }, undefined);
    x.log.info({ epoch: 1, site: first }, 'tenant initialised');
  } else {
    x.adopt(stored);
    x.log.info({ epoch: stored.epoch, site: stored.active, phase: stored.phase }, 'tenant state loaded');
  }
  const s = x.state();
  if (s.phase === 'failing_over' && s.to && site(s.to)) {
    // A flip was interrupted after its epoch was persisted: finish it, never go back.
    x.log.warn({ epoch: s.epoch, from: s.from, to: s.to }, 'resuming an interrupted failover');
    await x.asFlip(() => x.runner.resume(s, { to: s.to!, trigger: 'recovery', reason: `${why}: ${s.reason}` }));
  } else if (s.phase === 'frozen' && s.frozen_cause === 'state_lost') {
    // Its state was lost (see FileStateStore.load): no site takes traffic until an operator
    // fails it over, even when the last known active site is gone from the config.
    x.alert(`tenant frozen: ${s.reason}`);
  } else if (!site(s.active) || s.phase === 'failing_over') {
    // The active site is gone from the config: move to the first remaining site, new epoch.
    const target = x.sites.find((y) => !s.fenced.includes(y.name)) ?? x.sites[0]!;
    x.log.warn({ missing: s.active, to: target.name }, 'active site is not in the config; moving');
    await x.runner.commit(
      { epoch: s.epoch + 1, phase: 'active', active: target.name, fenced: s.fenced.filter((f) => site(f)), trigger: 'config', reason: `site ${s.active} is not in the config` },
      s.epoch,
    );
  }
  x.publish();
}
