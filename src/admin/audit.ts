/**
 * The audit trail: one record per admin call (allowed or refused) and per tenant state change,
 * marked `audit: true`, on the main log and, when configured, appended synchronously to a
 * separate file so that the evidence survives a crash right after the action.
 */
import { pino, type Logger } from 'pino';
import { REDACT_PATHS } from '../log.js';

export interface AuditRecord {
  action: string;
  actor: string;
  role?: string;
  result: 'ok' | 'denied' | 'error';
  status: number;
  tenant?: string;
  site?: string;
  backend?: string;
  reason?: string;
  epoch_before?: number;
  epoch_after?: number;
  remote?: string;
  detail?: string;
}

export class AuditLog {
  private readonly file: Logger | undefined;

  constructor(
    private readonly log: Logger,
    file?: string,
    private readonly count?: (action: string, result: string) => void,
  ) {
    if (file) {
      this.file = pino(
        { base: { service: 'drproxy', audit: true }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
        pino.destination({ dest: file, sync: true, append: true, mkdir: true }),
      );
    }
  }

  record(r: AuditRecord): void {
    const msg = `admin ${r.action} by ${r.actor}: ${r.result}`;
    const level = r.result === 'ok' ? 'info' : 'warn';
    this.log[level]({ audit: true, event: 'admin', ...r }, msg);
    this.file?.[level]({ event: 'admin', ...r }, msg);
    this.count?.(r.action, r.result);
  }

  /** A state change that no admin call made (automatic failover, freeze, recovery). */
  event(fields: Record<string, unknown>, msg: string): void {
    this.file?.warn({ ...fields }, msg);
  }
}
