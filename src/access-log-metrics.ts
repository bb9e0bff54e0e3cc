/**
 * The access log's fault counters, on the main registry: lines dropped (a slow or full
 * destination) and write errors of a file destination. Read from process-wide tallies at scrape.
 */
import { Counter, type Registry } from 'prom-client';
import { accessLogStats } from './proxy/access-log.js';

export function registerAccessLogMetrics(registry: Registry): void {
  const seen = { errors: 0, dropped: 0 };
  new Counter({
    name: 'drproxy_access_log_dropped_total',
    help: 'Access log lines dropped because the destination was too slow or failing (never waited for)',
    registers: [registry],
    collect() {
      this.inc(accessLogStats.droppedLines - seen.dropped);
      seen.dropped = accessLogStats.droppedLines;
    },
  });
  new Counter({
    name: 'drproxy_access_log_write_errors_total',
    help: 'Write errors of the access log file (ENOSPC, EIO, ...); stdout errors count in drproxy_log_write_errors_total',
    registers: [registry],
    collect() {
      this.inc(accessLogStats.writeErrors - seen.errors);
      seen.errors = accessLogStats.writeErrors;
    },
  });
}
