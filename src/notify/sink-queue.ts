/**
 * One sink's bounded queue and its delivery loop. Events wait in the queue; the first one of a
 * quiet period starts the coalescing window, and when it ends everything waiting goes out as one
 * message (pagerduty.ts: one per incident key, capped). One batch is delivered at a time, with
 * retries (deliver.ts); a full queue drops new events (counted), a batch that runs out of
 * attempts is given up with an alert line and a count. Nothing here is awaited by its callers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { NotifySinkConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NotifyEvent } from './events.js';
import type { OutMessage } from './message.js';
import type { NotifyMetrics } from './metrics.js';
import type { SinkSecrets } from './secrets.js';
import { type Attempt, attempt, backoff } from './deliver.js';
import { webhookMessages } from './webhook.js';
import { slackMessages } from './slack.js';
import { pagerDutyMessages } from './pagerduty.js';

export class SinkQueue {
  private waiting: NotifyEvent[] = [];
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly stop = new AbortController();

  constructor(
    readonly config: NotifySinkConfig,
    private readonly secrets: SinkSecrets,
    private readonly metrics: NotifyMetrics,
    private readonly logger: Logger,
    private readonly dispatcher?: Dispatcher,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Events waiting or being sent. */
  get depth(): number {
    return this.waiting.length + this.sending;
  }

  push(e: NotifyEvent): void {
    if (this.stop.signal.aborted) return;
    if (this.depth >= this.config.queue) {
      this.metrics.count(this.name, e.kind, 'dropped');
      return;
    }
    this.waiting.push(e);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.running || this.waiting.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.config.coalesce);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    this.running = true;
    const batch = this.waiting;
    this.waiting = [];
    this.sending = batch.length;
    try {
      for (const m of this.messages(batch)) await this.deliver(m);
    } catch (err) {
      this.logger.error({ err, sink: this.name }, 'notify: delivery loop failed');
    } finally {
      this.sending = 0;
      this.running = false;
      this.schedule();
    }
  }

  /** The messages of a batch in this sink's format (events it does not send are counted skipped). */
  messages(batch: NotifyEvent[], now = Date.now()): OutMessage[] {
    switch (this.config.kind) {
      case 'webhook':
        return webhookMessages(batch, this.secrets.secret ?? '', now);
      case 'slack':
        return slackMessages(batch);
      case 'pagerduty': {
        const { messages, skipped } = pagerDutyMessages(batch, this.secrets.routing_key ?? '');
        for (const e of skipped) this.metrics.count(this.name, e.kind, 'skipped');
        return messages;
      }
    }
  }

  /** One attempt, as `drproxy notify test` makes it. */
  once(m: OutMessage): Promise<Attempt> {
    const url = this.secrets.url;
    if (url === undefined || this.secrets.problems.length > 0) return Promise.resolve({ ok: false, retry: false, error: this.secrets.problems.join('; ') || 'no url' });
    return attempt(url, m.body, m.headers, this.config.timeout, this.dispatcher);
  }

  private async deliver(m: OutMessage): Promise<void> {
    let last: Attempt = { ok: false, retry: false };
    for (let n = 1; n <= this.config.retries && !this.stop.signal.aborted; n++) {
      last = await this.once(m);
      if (last.ok) {
        for (const e of m.events) this.metrics.count(this.name, e.kind, 'sent');
        return;
      }
      if (!last.retry || n === this.config.retries) break;
      await sleep(backoff(n, this.config.retry_base, last), undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
    }
    for (const e of m.events) this.metrics.count(this.name, e.kind, 'given_up');
    const why = last.error ?? (last.status !== undefined ? `HTTP ${last.status}` : 'stopped');
    this.logger.error({ alert: true, event: 'notification_given_up', sink: this.name, kind: this.config.kind, events: m.events.length, status: last.status, error: last.error }, `notify: sink ${this.name} gave up on ${m.events.length} event(s): ${why}`);
  }

  close(): void {
    this.stop.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
