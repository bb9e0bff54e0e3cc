/**
 * What the proxy does when a tenant controller reports (ControllerHooks): metrics, the audit
 * trail, notifications, and the extra observers tests add. Part of the composition root, kept
 * apart so that drproxy.ts reads as the wiring.
 */
import type { ControllerHooks } from './failover/controller-deps.js';
import type { TierConfig } from './config/types.js';
import type { Metrics } from './metrics.js';
import type { AuditLog } from './admin/audit.js';
import type { NotifyWiring } from './notify/wire.js';
import { ruleTrippedEvent } from './safety/rule-events.js';
import type { ChangeSink } from './console/wire.js';

export interface HookSinks {
  metrics: Metrics;
  audit: AuditLog;
  notify: NotifyWiring;
  /** The tenant's tier (a flip's RTO ratio), if it still exists. */
  tier(tenant: string): Pick<TierConfig, 'rto' | 'name'> | undefined;
  extra: ControllerHooks | undefined;
  /** The operator console's change feed (console/change-feed.ts): tenants to resend. */
  changes?: ChangeSink;
}

export function controllerHooks({ metrics, audit, notify, tier, extra, changes }: HookSinks): ControllerHooks {
  return {
    // Only when asked for (tests): it makes every probe result call the tenant back.
    ...(extra?.onCheck && { onCheck: extra.onCheck }),
    onBackendState: (...a) => {
      changes?.mark(a[0]);
      notify.backend(a[0], a[1], a[2], a[3], a[4].error ?? (a[4].status !== undefined ? `HTTP ${a[4].status}` : undefined));
      extra?.onBackendState?.(...a);
    },
    onEjection: (tenant, site, backend, ms, kind) => {
      metrics.ejected(tenant, site, kind);
      changes?.mark(tenant);
      extra?.onEjection?.(tenant, site, backend, ms, kind);
    },
    onSlowUnconfirmed: (tenant, site, backend) => {
      metrics.slowUnconfirmed(tenant, site);
      extra?.onSlowUnconfirmed?.(tenant, site, backend);
    },
    onFlip: (record) => {
      metrics.flip(record, tier(record.tenant) ?? { rto: record.rtoMs });
      audit.event({ event: 'failover', ...record }, `failover ${record.tenant}: ${record.from} → ${record.to} (epoch ${record.epoch}, ${record.result})`);
      notify.flip(record);
      changes?.flip(record);
      extra?.onFlip?.(record);
    },
    onSafetyRule: (trip) => {
      audit.event({ event: 'safety_rule_tripped', ...trip }, `tenant ${trip.tenant}: automatic flip ${trip.from} → ${trip.to} refused by safety rule ${trip.violations.map((v) => v.rule).join(', ')}`);
      notify.emit(ruleTrippedEvent(trip, tier(trip.tenant)?.name, Date.now()));
      extra?.onSafetyRule?.(trip);
    },
    onState: (state) => {
      audit.event({ event: 'state', ...state }, `tenant ${state.tenant} state: ${state.phase} ${state.active} epoch ${state.epoch}`);
      notify.state(state);
      changes?.mark(state.tenant);
      extra?.onState?.(state);
    },
  };
}
