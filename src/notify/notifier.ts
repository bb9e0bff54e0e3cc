/**
 * The Notifier that delivers (events.ts is the contract): one SinkQueue per `notify:` sink.
 * `emit` only filters and appends to queues, so a flip or a request never waits for a
 * notification; it never throws. A reload rebuilds the sinks (secrets read again).
 */
import { Agent } from 'undici';
import type { NotifySinkConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Notifier, NotifyEvent } from './events.js';
import type { NotifyMetrics } from './metrics.js';
import type { Attempt } from './deliver.js';
import { readSinkSecrets } from './secrets.js';
import { SinkQueue } from './sink-queue.js';

export interface SinkTestResult extends Attempt {
  sink: string;
  kind: NotifySinkConfig['kind'];
}

function wants(s: NotifySinkConfig, e: NotifyEvent): boolean {
  if (!s.events.includes(e.kind)) return false;
  if (s.tenants.length === 0 && s.tiers.length === 0) return true;
  // Fleet-wide events (no tenant: a leader change, the fleet breaker) reach every sink that wants the kind.
  if (e.tenant === undefined) return true;
  return s.tenants.includes(e.tenant) || (e.tier !== undefined && s.tiers.includes(e.tier));
}

export class NotifyService implements Notifier {
  private sinks: SinkQueue[] = [];
  /** Sinks a reload replaced: they still deliver what they hold, and are closed with the rest. */
  private retired: SinkQueue[] = [];
  /** Its own connection pool: closed with the notifier, never shared with the data plane's. */
  private readonly agent = new Agent({ connections: 4, keepAliveTimeout: 10_000 });

  constructor(
    private readonly metrics: NotifyMetrics,
    private readonly logger: Logger,
    sinks: readonly NotifySinkConfig[],
  ) {
    metrics.setDepthSource(() => this.sinks.map((s) => [s.name, s.depth] as [string, number]));
    this.configure(sinks);
  }

  /** Start and every reload: the sinks anew; events already queued on the old ones are still delivered. */
  configure(sinks: readonly NotifySinkConfig[]): void {
    const next = sinks.map((c) => {
      const secrets = readSinkSecrets(c);
      for (const p of secrets.problems) this.logger.error({ alert: true, event: 'notify_sink_unusable', sink: c.name }, `notify.${c.name}: ${p}`);
      return new SinkQueue(c, secrets, this.metrics, this.logger, this.agent);
    });
    this.retired = [...this.retired.filter((s) => s.depth > 0), ...this.sinks];
    this.sinks = next;
  }

  emit(event: NotifyEvent): void {
    try {
      for (const s of this.sinks) if (wants(s.config, event)) s.push(event);
    } catch (err) {
      this.logger.error({ err }, 'notify: emit failed');
    }
  }

  sinkNames(): string[] {
    return this.sinks.map((s) => s.name);
  }

  /** `drproxy notify test SINK`: one test event, one attempt, straight away; what the sink answered. */
  async test(name: string, actor?: string): Promise<SinkTestResult | undefined> {
    const s = this.sinks.find((x) => x.name === name);
    if (s === undefined) return undefined;
    const e: NotifyEvent = { kind: 'failover_finished', at: Date.now(), severity: 'warning', summary: `drproxy test notification${actor ? ` sent by ${actor}` : ''}`, dedup_key: `drproxy-test:${name}`, details: { test: true } };
    const messages = s.messages([e]);
    const a = messages[0] ? await s.once(messages[0]) : { ok: false, retry: false, error: 'nothing to send' };
    return { sink: name, kind: s.config.kind, ...a };
  }

  close(): void {
    for (const s of [...this.sinks, ...this.retired]) s.close();
    void this.agent.destroy().catch(() => {});
  }
}
