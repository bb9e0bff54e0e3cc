/**
 * A worker's log lines (pino JSON, written to a message instead of stdout) go through the main
 * thread's logger: one writer for the process's log (no interleaved partial lines from threads),
 * the main logger's destination and format, and tests that read the logger see the workers too.
 * Workers log what the data plane logs (warnings, drains, faults: rate-limited), never a line
 * per request at info.
 */
import type { Logger } from '../log.js';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
/** Set again by the main logger. */
const OWN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg']);

export function relayLog(log: Logger, line: string): void {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  const level = typeof rec.level === 'string' && LEVELS.has(rec.level) ? (rec.level as 'info') : 'info';
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(rec)) if (!OWN.has(k)) fields[k] = rec[k];
  log[level](fields, typeof rec.msg === 'string' ? rec.msg : '');
}
