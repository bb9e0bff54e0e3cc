/**
 * Slack incoming webhooks: `text` (the notification's fallback) and `blocks`: one section per
 * event with its tenant, sites, epoch and measured time, up to MAX_SHOWN; a coalesced batch
 * larger than that ends with a count of the rest.
 */
import type { NotifyEvent } from './events.js';
import { type OutMessage, line, tally } from './message.js';

const MAX_SHOWN = 10;

function fields(e: NotifyEvent): Array<{ type: 'mrkdwn'; text: string }> {
  const f: Array<[string, unknown]> = [
    ['Tenant', e.tenant],
    ['Sites', e.from && e.to ? `${e.from} → ${e.to}` : e.site],
    ['Epoch', e.epoch],
    ['Measured', e.duration_ms !== undefined ? `${Math.round(e.duration_ms)} ms` : undefined],
  ];
  return f.filter(([, v]) => v !== undefined).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${String(v)}` }));
}

export function slackMessages(events: NotifyEvent[]): OutMessage[] {
  const text = events.length === 1 ? `drproxy: ${line(events[0]!)}` : `drproxy: ${events.length} events (${tally(events)})`;
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  for (const e of events.slice(0, MAX_SHOWN)) {
    const f = fields(e);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*${e.kind}* (${e.severity}): ${e.summary}` }, ...(f.length > 0 && { fields: f }) });
  }
  if (events.length > MAX_SHOWN) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${events.length - MAX_SHOWN} more` }] });
  return [{ body: JSON.stringify({ text, blocks }), events, headers: { 'content-type': 'application/json' } }];
}
