/**
 * PagerDuty Events API v2: `trigger` for critical and warning events, `resolve` for resolved
 * ones, each with a stable `dedup_key` per tenant and condition (the event's, else
 * `<kind>:<tenant>`), so that a frozen tenant opens one incident and its recovery resolves it.
 * Info events page nobody and are not sent. PagerDuty takes one event per request: a
 * coalesced batch sends one per distinct key up to MAX_PER_BATCH, then one summary trigger.
 */
import type { NotifyEvent } from './events.js';
import { type OutMessage, line, tally } from './message.js';

const MAX_PER_BATCH = 5;

export function dedupKey(e: NotifyEvent): string {
  return e.dedup_key ?? `${e.kind}:${e.tenant ?? 'fleet'}`;
}

function message(routingKey: string, e: NotifyEvent, events: NotifyEvent[]): OutMessage {
  const body =
    e.severity === 'resolved'
      ? { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey(e) }
      : {
          routing_key: routingKey,
          event_action: 'trigger',
          dedup_key: dedupKey(e),
          payload: { summary: line(e).slice(0, 1024), source: 'drproxy', severity: e.severity, timestamp: new Date(e.at).toISOString(), component: e.tenant, group: e.tier, class: e.kind, custom_details: e },
        };
  return { body: JSON.stringify(body), events, headers: { 'content-type': 'application/json' } };
}

/** The messages of a batch, and the events not sent (info: nothing to page about). */
export function pagerDutyMessages(batch: NotifyEvent[], routingKey: string): { messages: OutMessage[]; skipped: NotifyEvent[] } {
  const skipped = batch.filter((e) => e.severity === 'info');
  // The last event per key wins: a trigger then a resolve within one window ends resolved.
  const byKey = new Map<string, NotifyEvent[]>();
  for (const e of batch) if (e.severity !== 'info') byKey.set(dedupKey(e), [...(byKey.get(dedupKey(e)) ?? []), e]);
  const groups = [...byKey.values()];
  const messages = groups.slice(0, MAX_PER_BATCH).map((g) => message(routingKey, g[g.length - 1]!, g));
  const rest = groups.slice(MAX_PER_BATCH).flat();
  if (rest.length > 0) {
    const first = rest[0]!;
    const summary: NotifyEvent = { kind: first.kind, at: first.at, severity: rest.some((e) => e.severity === 'critical') ? 'critical' : 'warning', summary: `${rest.length} more events (${tally(rest)})`, dedup_key: `drproxy-summary:${first.kind}`, details: { tenants: [...new Set(rest.map((e) => e.tenant).filter(Boolean))].slice(0, 100) } };
    messages.push(message(routingKey, summary, rest));
  }
  return { messages, skipped };
}
