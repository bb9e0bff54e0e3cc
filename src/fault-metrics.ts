/**
 * Counters of the faults that must never end the process, on the main registry: refused and
 * failed admin calls, audit records that could not be written (and those lost), log lines that
 * could not be.
 */
import { Counter, type Registry } from 'prom-client';
import type { AdminCounters } from './admin/server.js';
import type { AuditKind } from './admin/audit.js';
import { logStats } from './log-destination.js';

export class FaultMetrics implements AdminCounters {
  readonly adminRefused: Counter<'code'>;
  readonly adminHandlerErrors: Counter<'action'>;
  readonly auditWriteErrors: Counter<'record'>;
  readonly auditDropped: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.adminRefused = new Counter({
      name: 'drproxy_admin_refused_total',
      help: 'Admin API calls answered 4xx, by error code (unauthorized, too_many_requests, misdirected_request, ...)',
      labelNames: ['code'],
      registers,
    });
    this.adminHandlerErrors = new Counter({
      name: 'drproxy_admin_handler_errors_total',
      help: 'Admin API calls whose handler failed unexpectedly (answered 500 when still possible)',
      labelNames: ['action'],
      registers,
    });
    this.auditWriteErrors = new Counter({
      name: 'drproxy_audit_write_errors_total',
      help: 'Audit records that could not be written to admin.audit_file (record=intent: the mutation was refused with 503; others: the record was lost)',
      labelNames: ['record'],
      registers,
    });
    // The alert's figure: records lost for good. An intent that cannot be written is not lost
    // (the mutation is refused with 503, and its outcome record says so).
    this.auditDropped = new Counter({
      name: 'drproxy_audit_records_dropped_total',
      help: 'Audit records that could not be written to admin.audit_file and are lost (outcome, refused and event records)',
      registers,
    });
    tallyCounter(registry, 'drproxy_log_write_errors_total', 'Write errors of the log destination (stdout): ENOSPC, EIO, EPIPE, ...', () => logStats.writeErrors);
    tallyCounter(registry, 'drproxy_log_lines_dropped_total', 'Log lines dropped because the log destination failed or was too slow', () => logStats.droppedLines);
  }

  refused(code: string): void {
    this.adminRefused.inc({ code });
  }

  handlerError(action: string): void {
    this.adminHandlerErrors.inc({ action });
  }

  auditWriteError(kind: AuditKind): void {
    this.auditWriteErrors.inc({ record: kind });
    if (kind !== 'intent') this.auditDropped.inc();
  }
}

/**
 * A counter that follows a process-wide tally (a plain number the writer increments, read at
 * scrape): the log's and the access log's failures are counted where no registry is at hand.
 */
export function tallyCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      this.inc(now - seen);
      seen = now;
    },
  });
}
