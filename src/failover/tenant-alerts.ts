/**
 * A tenant's operator alerts (`"alert":true` log lines): an ongoing condition is logged once,
 * not on every check, and late (inconclusive) probes at most once a minute.
 */
import type { Logger } from '../log.js';

export class TenantAlerts {
  /** The last alert logged ('' once the condition cleared). */
  private current = '';
  private lastOverload = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** The alert standing now ('' when none): a scheduled drill waits while one stands (drill/alerts-firing.ts). */
  get standing(): string {
    return this.current;
  }

  /** Log `message` unless it is the alert already standing; '' clears it. True: a new alert was logged. */
  alert(message: string): boolean {
    if (message === this.current) return false;
    this.current = message;
    if (message !== '') this.log.error({ alert: true }, message);
    return message !== '';
  }

  /** Probes come back inconclusive (drproxy itself is late): say so, at most once a minute. */
  overloaded(error: string | undefined): void {
    const now = this.now();
    if (now - this.lastOverload < 60_000) return;
    this.lastOverload = now;
    this.log.error({ alert: true, error }, 'health checks are running late: drproxy is overloaded; probe results are ignored until it catches up (no failover is decided on them)');
  }
}
