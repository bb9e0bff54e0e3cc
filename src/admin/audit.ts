/**
 * The audit trail: one record per admin call (refused calls summed per address, see
 * refusals.ts) and per tenant state change, marked `audit: true`, on the main log and, when
 * configured, appended synchronously to a separate file so that the evidence survives a crash
 * right after the action.
 *
 * Nothing here ever throws at its caller because of the disk, except `intent()`: a mutation
 * writes its intent record first, and when that cannot reach the audit file the mutation is
 * refused (AuditUnavailableError → 503) and nothing changes. Every other record that cannot
 * be written is dropped, counted (onWriteError) and alerted on the log, at most once a minute.
 * The file's records form a hash chain (src/evidence/chain.ts); each call that writes one
 * returns its reference (seq and hash), which drill reports cite.
 * Every client-supplied string is cut to a bound with a marker, so that a record stays small
 * whatever the request.
 */
import { pino, type Logger } from 'pino';
import { baseLogOptions } from '../log.js';
import type { AuditRef } from '../drill/types.js';
import { ChainedAuditFile, type AppendResult, type SegmentInfo } from '../evidence/chained-file.js';
import { AuditFile } from './audit-file.js';

export interface AuditRecord {
  action: string;
  actor: string;
  role?: string;
  /** pending: a two-person approval request was created; nothing was carried out (approvals.ts). */
  result: 'ok' | 'denied' | 'error' | 'pending';
  status: number;
  tenant?: string;
  site?: string;
  backend?: string;
  reason?: string;
  epoch_before?: number;
  epoch_after?: number;
  remote?: string;
  detail?: string;
  /** Clustered mode: a follower sent this action to that leader (forwarded-audit.ts). */
  forwarded_to?: string;
  /** Clustered mode: the leader carried out this action for that follower, proposal id. */
  forwarded_from?: string;
  proposal?: string;
  /** Two-person approval (approval-routes.ts): the request's id, who asked, who approved. */
  approval?: string;
  requested_by?: string;
  approved_by?: string;
  /** A flip or fence that broke a per-flip safety rule under break glass (admin/break-glass.ts), and the rules broken. */
  break_glass?: boolean;
  rules_broken?: string[];
  /** Refused calls to no endpoint: what was asked. */
  method?: string;
  path?: string;
  host?: string;
  /** A summary of refused calls: how many, by status, over which window. */
  count?: number;
  statuses?: Record<string, number>;
  window_seconds?: number;
}

/** The kinds of audit record, for the write-error metric. */
export type AuditKind = 'intent' | 'outcome' | 'refused' | 'event';

export interface AuditOptions {
  file?: string;
  /** A write to the audit file failed (the record is lost, or the mutation refused). */
  onWriteError?: (kind: AuditKind, err: NodeJS.ErrnoException) => void;
  /** Every admin call, by action and result (called per call, summed or not). */
  count?: (action: string, result: string) => void;
}

/** The intent record of a mutation could not be written: the mutation must not run. */
export class AuditUnavailableError extends Error {
  readonly code = 'DRP_AUDIT_UNAVAILABLE';
  constructor(file: string, cause: NodeJS.ErrnoException) {
    super(`the audit record cannot be written to ${file} (${cause.code ?? cause.message}); the change was refused and nothing changed`, { cause });
    this.name = 'AuditUnavailableError';
  }
}

/** Longest kept value of a client-supplied field, in characters; others: DEFAULT_FIELD_MAX. */
const FIELD_MAX: Record<string, number> = { reason: 1024, detail: 512 };
const DEFAULT_FIELD_MAX = 256;
const ALERT_EVERY_MS = 60_000;

export function bounded(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…[truncated ${value.length - max} chars]`;
}

function boundRecord<T extends object>(r: T): T {
  const out = { ...r } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string') out[k] = bounded(v, FIELD_MAX[k] ?? DEFAULT_FIELD_MAX);
  return out as T;
}

export class AuditLog {
  private readonly file: AuditFile | undefined;
  private readonly chain: ChainedAuditFile | undefined;
  private readonly fileLog: Logger | undefined;
  /** The outcome of the last write to the file (set by the destination, read after each log call). */
  private lastError: NodeJS.ErrnoException | undefined;
  private lastRef: AuditRef | undefined;
  private failedSinceAlert = 0;
  private lastAlert = 0;

  constructor(
    private readonly log: Logger,
    private readonly opts: AuditOptions = {},
  ) {
    if (opts.file) {
      this.file = new AuditFile(opts.file);
      const chain = (this.chain = new ChainedAuditFile(this.file, (s) => this.segmentStarted(s)));
      const destination = {
        write: (line: string) => {
          const r = chain.append(line);
          this.lastError = r.err;
          this.lastRef = r.ref;
        },
      };
      this.fileLog = pino(baseLogOptions({ audit: true }), destination);
    }
  }

  /** The audit file, when one is configured. */
  get filePath(): string | undefined {
    return this.opts.file;
  }

  /** The last record of the audit file's hash chain (undefined: no file, or nothing chained yet). */
  head(): AuditRef | undefined {
    return this.chain?.head();
  }

  /** Counts one admin call for the metrics (whether or not it gets a record of its own). */
  count(action: string, result: string): void {
    this.opts.count?.(action, result);
  }

  /**
   * Writes the record of a mutation before it runs; throws AuditUnavailableError when the audit
   * file cannot take it (the caller must then refuse the mutation). Returns the record's
   * reference in the chain (undefined when no file is configured).
   */
  intent(r: Omit<AuditRecord, 'result' | 'status'>): AuditRef | undefined {
    const b = boundRecord(r);
    const msg = `admin ${b.action} by ${b.actor}: started`;
    const { err, ref } = this.toFile('intent', 'info', { event: 'admin', phase: 'intent', ...b }, msg);
    // Refused: the outcome record (503) says so on the log.
    if (err) throw new AuditUnavailableError(this.opts.file!, err);
    this.log.info({ audit: true, event: 'admin', phase: 'intent', ...b }, msg);
    return ref;
  }

  /** The record of a call (its outcome) or of a refusal; its reference, undefined when no file took it. */
  record(r: AuditRecord, kind: 'outcome' | 'refused' = 'outcome'): AuditRef | undefined {
    const b = boundRecord(r);
    const msg = b.count === undefined ? `admin ${b.action} by ${b.actor}: ${b.result}` : `${b.count} refused calls from ${b.remote}${b.actor === 'anonymous' ? '' : ` (token ${b.actor})`} in the last ${b.window_seconds} s`;
    const level = b.result === 'ok' || b.result === 'pending' ? 'info' : 'warn';
    this.log[level]({ audit: true, event: 'admin', ...b }, msg);
    return this.toFile(kind, level, { event: 'admin', ...b }, msg).ref;
  }

  /** A state change that no admin call made (automatic failover, freeze, recovery, a drill's step); its reference. */
  event(fields: Record<string, unknown>, msg: string): AuditRef | undefined {
    return this.toFile('event', 'warn', { ...fields }, msg).ref;
  }

  close(): void {
    this.file?.close();
  }

  private toFile(kind: AuditKind, level: 'info' | 'warn', fields: object, msg: string): AppendResult {
    if (!this.fileLog) return {};
    this.lastError = undefined;
    this.lastRef = undefined;
    try {
      this.fileLog[level](fields, msg);
    } catch (err) {
      // Serialisation of a record: never the caller's problem.
      this.lastError = err as NodeJS.ErrnoException;
    }
    const err = this.lastError;
    if (err) {
      this.writeFailed(kind, err);
      return { err };
    }
    // Set by the destination during the call above (TypeScript narrowed it to the reset value).
    const ref = this.lastRef as AuditRef | undefined;
    return ref ? { ref } : {};
  }

  private segmentStarted(s: SegmentInfo): void {
    this.log.warn(
      { audit: true, event: 'audit_chain_segment', file: this.opts.file, reason: s.reason, lines: s.lines, bytes: s.bytes, seq: s.ref.seq },
      `audit file ${this.opts.file}: its last line was ${s.reason === 'torn_line' ? 'cut short' : 'not a chained record'}; a new hash-chain segment starts at line ${s.ref.seq}, covering the ${s.bytes} byte(s) before it`,
    );
  }

  private writeFailed(kind: AuditKind, err: NodeJS.ErrnoException): void {
    this.opts.onWriteError?.(kind, err);
    this.failedSinceAlert++;
    const now = Date.now();
    if (now - this.lastAlert < ALERT_EVERY_MS) return;
    this.log.error(
      { alert: true, event: 'audit_write_failed', file: this.opts.file, code: err.code, failed: this.failedSinceAlert },
      `audit file ${this.opts.file} cannot be written (${err.code ?? err.message}): ${this.failedSinceAlert} record(s) lost since the last alert; mutations are refused (503 audit_unavailable) until it can`,
    );
    this.lastAlert = now;
    this.failedSinceAlert = 0;
  }
}
