/** What a sink sends: one HTTP POST carrying one or more events. */
import type { NotifyEvent } from './events.js';

export interface OutMessage {
  body: string;
  headers: Record<string, string>;
  /** The events this message carries (counted by kind when it is sent or given up). */
  events: NotifyEvent[];
}

/** A short human line for an event: "acme: failover a1 → b1 (epoch 7, 812 ms)". */
export function line(e: NotifyEvent): string {
  const parts = [e.tenant && `tenant ${e.tenant}`, e.from && e.to && `${e.from} → ${e.to}`, e.site && !e.to && `site ${e.site}`, e.epoch !== undefined && `epoch ${e.epoch}`, e.duration_ms !== undefined && `${Math.round(e.duration_ms)} ms`];
  return `[${e.kind}] ${e.summary}${parts.some(Boolean) ? ` (${parts.filter(Boolean).join(', ')})` : ''}`;
}

/** Event kinds with their counts, most first: "failover_started ×500, failover_finished ×3". */
export function tally(events: readonly NotifyEvent[]): string {
  const n = new Map<string, number>();
  for (const e of events) n.set(e.kind, (n.get(e.kind) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1]).map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ');
}
