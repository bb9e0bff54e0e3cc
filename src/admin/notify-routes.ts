/**
 * The admin API's notification endpoint (docs/notifications.md, "Testing a sink"):
 *
 *   POST /notify/test   operator  {sink, reason?}  → 200 {sink, kind, ok, status?, body?, error?}
 *
 * One test event to the sink straight away (one attempt, no queue); the answer is what the sink
 * said, whether it accepted it or not (a sink's refusal is the operator's information, not an
 * admin API error). An unknown sink is 404.
 */
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { reasonOf, type Route } from './routes.js';

export function notifyRoutes(api: AdminApi): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/notify\/test$/,
      role: 'operator',
      action: 'notify_test',
      async handle(ctx) {
        for (const k of Object.keys(ctx.body)) {
          if (k !== 'sink' && k !== 'reason') throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: sink, reason)`);
        }
        const sink = ctx.body.sink;
        if (typeof sink !== 'string' || sink === '') throw new HttpError(400, 'bad_request', '"sink" is required: the name of a notify: sink');
        const why = reasonOf(ctx, false);
        if (why !== undefined) ctx.audit.reason = why;
        const notifier = api.notifierService?.();
        const r = await notifier?.test(sink, ctx.principal?.name);
        if (r === undefined) throw new HttpError(404, 'not_found', `no notify sink "${sink}"${notifier ? ` (sinks: ${notifier.sinkNames().join(', ') || 'none'})` : ''}`);
        ctx.audit.detail = `notify test ${sink}: ${r.ok ? 'accepted' : 'refused'}${r.status !== undefined ? ` (HTTP ${r.status})` : ''}`;
        const { retry: _retry, retryAfterMs: _ra, ...answer } = r;
        return answer;
      },
    },
  ];
}
