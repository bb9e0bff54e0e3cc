/**
 * Notification series (docs/metrics.md, "Notifications"): events by sink, kind and result
 * (sent, given_up, dropped: the queue was full, skipped: the sink does not send that kind), and
 * each sink's events waiting.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type NotifyResult = 'sent' | 'given_up' | 'dropped' | 'skipped';

export class NotifyMetrics {
  private readonly total: Counter<'sink' | 'event' | 'result'>;
  private depths: () => Iterable<[sink: string, depth: number]> = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.total = new Counter({ name: 'drproxy_notifications_total', help: 'Notification events by sink, event kind and result (sent, given_up, dropped, skipped)', labelNames: ['sink', 'event', 'result'], registers });
    const self = this;
    new Gauge({
      name: 'drproxy_notification_queue_depth',
      help: 'Notification events waiting to be sent, per sink',
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const [sink, depth] of self.depths()) this.set({ sink }, depth);
      },
    });
  }

  setDepthSource(src: () => Iterable<[string, number]>): void {
    this.depths = src;
  }

  count(sink: string, event: string, result: NotifyResult, n = 1): void {
    this.total.inc({ sink, event, result }, n);
  }
}
