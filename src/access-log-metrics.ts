/**
 * The access log's fault counters, on the main registry: lines dropped (a slow or full
 * destination) and write errors of a file destination. Read from process-wide tallies at scrape.
 */
import type { Registry } from 'prom-client';
import { accessLogStats } from './proxy/access-log.js';
import { tallyCounter } from './fault-metrics.js';

export function registerAccessLogMetrics(registry: Registry): void {
  tallyCounter(
    registry,
    'drproxy_access_log_dropped_total',
    'Access log lines dropped because the destination was too slow or failing (never waited for)',
    () => accessLogStats.droppedLines,
  );
  tallyCounter(
    registry,
    'drproxy_access_log_write_errors_total',
    'Write errors of the access log file (ENOSPC, EIO, ...); stdout errors count in drproxy_log_write_errors_total',
    () => accessLogStats.writeErrors,
  );
}
