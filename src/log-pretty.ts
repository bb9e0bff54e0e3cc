/**
 * `log.format: pretty`: pino's JSON lines turned into short lines for a person at a terminal,
 *
 *   14:05:12.345 INFO  drproxy listening  listen=127.0.0.1:8080 tenants=3
 *
 * with the level coloured when stdout is a TTY. Built in rather than the pino-pretty package
 * (a dozen transitive dependencies for a convenience): it needs only the fields drproxy writes.
 * JSON stays the default and what a log pipeline should read; `| npx pino-pretty` on the JSON
 * output is the richer alternative.
 */
import type { DestinationStream } from 'pino';

/** Fields shown in the line's head or always the same for a process: not repeated as key=value. */
const HIDDEN = new Set(['time', 'level', 'msg', 'service', 'pid', 'hostname']);

const COLOURS: Record<string, number> = { trace: 90, debug: 36, info: 32, warn: 33, error: 31, fatal: 35 };

export class PrettyDestination implements DestinationStream {
  constructor(
    private readonly out: DestinationStream,
    private readonly opts: { color?: boolean } = {},
  ) {}

  write(line: string): void {
    this.out.write(prettyLine(line, this.opts.color === true));
  }

  flush(cb?: (err?: Error) => void): void {
    const out = this.out as DestinationStream & { flush?: (cb?: (err?: Error) => void) => void };
    if (out.flush) out.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    (this.out as DestinationStream & { flushSync?: () => void }).flushSync?.();
  }
}

/** One JSON log line → one readable line (an error's stack on the lines after it). Not JSON: as it is. */
export function prettyLine(line: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(rec.level ?? '');
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  const tag = level.toUpperCase().padEnd(5);
  const head = `${time} ${color && COLOURS[level] !== undefined ? `\x1b[${COLOURS[level]}m${tag}\x1b[0m` : tag} ${String(rec.msg ?? '')}`;
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(rec)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    if (key === 'err' && value !== null && typeof value === 'object' && typeof (value as { stack?: unknown }).stack === 'string') {
      const err = value as { message?: string; stack: string };
      fields.push(`err=${show(err.message ?? '')}`);
      stack = `\n    ${err.stack.split('\n').join('\n    ')}`;
      continue;
    }
    fields.push(`${key}=${show(value)}`);
  }
  return `${head}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}${stack}\n`;
}

/** A value as key=value shows it: bare when it is a plain word, JSON otherwise. */
function show(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
