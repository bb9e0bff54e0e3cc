/**
 * The events drproxy tells people about (issue 20; docs/notifications.md once built). Every part
 * that notices something emits one through a Notifier; delivery (sinks, queues, retries,
 * coalescing) is the notifier's business and never on a flip's or a request's path: `emit`
 * returns at once and never throws.
 */

export type NotifyEventKind =
  | 'failover_started'
  | 'failover_finished'
  | 'frozen'
  | 'recovered'
  | 'rto_exceeded'
  | 'site_unready'
  | 'backend_down'
  | 'drill_passed'
  | 'drill_failed'
  | 'leader_changed'
  | 'approval_requested'
  | 'safety_rule_tripped';

export const NOTIFY_EVENT_KINDS: readonly NotifyEventKind[] = Object.freeze([
  'failover_started',
  'failover_finished',
  'frozen',
  'recovered',
  'rto_exceeded',
  'site_unready',
  'backend_down',
  'drill_passed',
  'drill_failed',
  'leader_changed',
  'approval_requested',
  'safety_rule_tripped',
]);

export interface NotifyEvent {
  kind: NotifyEventKind;
  /** Epoch ms. */
  at: number;
  /** One line for people. */
  summary: string;
  /** 'critical' pages (PagerDuty trigger), 'warning' and 'info' do not; 'resolved' closes what a critical one opened. */
  severity: 'critical' | 'warning' | 'info' | 'resolved';
  tenant?: string;
  tier?: string;
  site?: string;
  from?: string;
  to?: string;
  epoch?: number;
  /** A duration measured (a flip's, a drill's RTO), ms. */
  duration_ms?: number;
  /** Stable key of the condition (PagerDuty dedup_key): e.g. "frozen:acme"; a resolve names the same. */
  dedup_key?: string;
  /** Anything else worth showing (reasons, an approval id, a rule's figures). */
  details?: Record<string, unknown>;
}

/** Where events go. The default does nothing (no `notify:` configured). */
export interface Notifier {
  emit(event: NotifyEvent): void;
}

export const SILENT_NOTIFIER: Notifier = Object.freeze({ emit: () => {} });
