/**
 * Webhook signatures, Stripe-style: `X-DRProxy-Signature: t=<unix seconds>,v1=<hex>` where v1 is
 * HMAC-SHA256 over `${t}.${body}` with the sink's secret. The timestamp in the signed text lets
 * a receiver refuse replays (docs/notifications.md has the verification example).
 */
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-drproxy-signature';

export function signature(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}
