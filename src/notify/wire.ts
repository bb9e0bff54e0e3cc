/**
 * Events from what drproxy already observes (the composition root calls these from its
 * controller hooks and the drill store's observer): flips, state phase changes, drills and
 * leadership. Each only builds an event and calls `emit`, which returns at once.
 */
import type { FlipRecord } from '../failover/flip.js';
import type { TenantState } from '../state/types.js';
import type { AnyDrillReport } from '../drill/types.js';
import type { HealthState } from '../health/hysteresis.js';
import type { Notifier } from './events.js';
import { LeaderNotices } from './leader-notice.js';

export class NotifyWiring {
  /** Each tenant's last phase seen, to tell a change (frozen → active is `recovered`). */
  private readonly phases = new Map<string, TenantState['phase']>();
  /** Each backend's last active-health state ("tenant/site/backend"). */
  private readonly backends = new Map<string, HealthState>();
  private leaders: LeaderNotices | undefined;

  constructor(
    private readonly notifier: () => Notifier,
    private readonly tierOf: (tenant: string) => string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The persisted state changed (ControllerHooks.onState). */
  state(s: TenantState): void {
    const prev = this.phases.get(s.tenant);
    this.phases.set(s.tenant, s.phase);
    if (prev === s.phase && s.phase !== 'failing_over') return;
    const n = this.notifier();
    const base = { at: this.now(), tenant: s.tenant, epoch: s.epoch, ...this.tier(s.tenant) };
    if (s.phase === 'failing_over' && s.from !== undefined && s.to !== undefined) {
      n.emit({ ...base, kind: 'failover_started', severity: 'warning', from: s.from, to: s.to, summary: `${s.tenant}: failover ${s.from} → ${s.to} started (${s.trigger}: ${s.reason})`, details: { trigger: s.trigger, reason: s.reason } });
    } else if (s.phase === 'frozen') {
      n.emit({ ...base, kind: 'frozen', severity: 'critical', site: s.active, dedup_key: `frozen:${s.tenant}`, summary: `${s.tenant} is frozen (${s.frozen_cause ?? 'unknown cause'}): ${s.reason}`, details: { cause: s.frozen_cause, reason: s.reason } });
    } else if (s.phase === 'active' && prev === 'frozen') {
      n.emit({ ...base, kind: 'recovered', severity: 'resolved', site: s.active, dedup_key: `frozen:${s.tenant}`, summary: `${s.tenant} recovered: active on ${s.active}`, details: { reason: s.reason } });
    }
  }

  /** A flip finished (ControllerHooks.onFlip): measured against the tier's RTO. */
  flip(r: FlipRecord): void {
    const n = this.notifier();
    const base = { at: this.now(), tenant: r.tenant, tier: r.tier, from: r.from, to: r.to, epoch: r.epoch, duration_ms: r.durationMs, details: { trigger: r.trigger, reason: r.reason, result: r.result, rto_ms: r.rtoMs, ...(r.actor !== undefined && { actor: r.actor }) } };
    n.emit({ ...base, kind: 'failover_finished', severity: r.result === 'routed' ? 'info' : 'warning', summary: `${r.tenant}: failover ${r.from} → ${r.to} ${r.result} in ${Math.round(r.durationMs)} ms` });
    if (r.durationMs > r.rtoMs) {
      n.emit({ ...base, kind: 'rto_exceeded', severity: 'warning', dedup_key: `rto_exceeded:${r.tenant}`, summary: `${r.tenant}: failover took ${Math.round(r.durationMs)} ms, over the ${r.tier} RTO of ${r.rtoMs} ms` });
    }
  }

  /** A drill report reached its final status. Skipped and region summaries are not told (their drills are). */
  drill(r: AnyDrillReport): void {
    if (r.kind !== 'drproxy.drill' || r.status === 'running' || r.status === 'skipped') return;
    const passed = r.status === 'passed';
    this.notifier().emit({
      kind: passed ? 'drill_passed' : 'drill_failed',
      at: this.now(),
      severity: passed ? 'info' : 'warning',
      tenant: r.tenant,
      tier: r.tier.name,
      from: r.from,
      ...(r.to !== undefined && { to: r.to }),
      ...(r.measured_rto_ms !== undefined && { duration_ms: r.measured_rto_ms }),
      summary: `${r.tenant}: drill ${r.id} ${r.status}`,
      details: { id: r.id, status: r.status, trigger: r.trigger, rto_ms: r.rto_ms },
    });
  }

  /** A backend's active health changed (ControllerHooks.onBackendState): down is told, and up again resolves it. */
  backend(tenant: string, site: string, backend: string, state: HealthState, detail: string | undefined): void {
    const key = `${tenant}/${site}/${backend}`;
    const was = this.backends.get(key);
    this.backends.set(key, state);
    if (state === was || state === 'unknown' || (state === 'up' && was !== 'down')) return;
    const down = state === 'down';
    this.notifier().emit({
      kind: 'backend_down',
      at: this.now(),
      severity: down ? 'warning' : 'resolved',
      tenant,
      site,
      ...this.tier(tenant),
      dedup_key: `backend_down:${key}`,
      summary: down ? `${tenant}: backend ${backend} of site ${site} is down${detail ? ` (${detail})` : ''}` : `${tenant}: backend ${backend} of site ${site} is up again`,
      details: { backend },
    });
  }

  /** An event built elsewhere (a per-flip safety rule: safety/rule-events.ts). */
  emit(e: import('./events.js').NotifyEvent): void {
    this.notifier().emit(e);
  }

  /** Clustered mode: this replica started or stopped leading (ClusterReplica.onLeading); throttled in leader-notice.ts. */
  leader(replica: string, leading: boolean, previous?: string): void {
    this.leaders ??= new LeaderNotices(this.notifier, this.now);
    this.leaders.changed(replica, leading, previous);
  }

  private tier(tenant: string): { tier?: string } {
    const t = this.tierOf(tenant);
    return t === undefined ? {} : { tier: t };
  }
}
