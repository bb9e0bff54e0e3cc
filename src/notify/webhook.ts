/** The generic webhook: `{"events":[...]}` (the whole coalesced batch), signed (sign.ts). */
import type { NotifyEvent } from './events.js';
import type { OutMessage } from './message.js';
import { SIGNATURE_HEADER, signature } from './sign.js';

export function webhookMessages(events: NotifyEvent[], secret: string, nowMs: number): OutMessage[] {
  const body = JSON.stringify({ source: 'drproxy', sent_at: new Date(nowMs).toISOString(), events });
  return [{ body, events, headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature(secret, body, nowMs) } }];
}
