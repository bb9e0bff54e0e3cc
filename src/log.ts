/**
 * Logging: pino JSON lines (`"level":"info"`, with pid and hostname), or short human-readable
 * lines for a terminal (`log.format: pretty`, log-pretty.ts). Secrets are redacted wherever they may appear; state changes and
 * admin actions go through `audit()` so that they are marked records (`audit: true`) that a log
 * pipeline can route to a separate, retained stream.
 */
import { hostname } from 'node:os';
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { stdoutDestination } from './log-destination.js';
import { PrettyDestination } from './log-pretty.js';

export type { Logger };

/**
 * Fields that must never reach a log line in clear: bearer tokens, Authorization and Cookie
 * headers, wherever drproxy's records can hold them (top level, a `headers` object, a `req`
 * with headers, an error's request headers). Explicit paths, no `*` wildcards: pino's
 * wildcard redaction walks every record and cost ~17 µs per log line against ~3 µs
 * (`node bench/log-redaction.js`), and on a flip's path, with requests held, the wildcard
 * version delayed the first answer from the new site by ~4 ms. test/log-redaction.test.ts
 * proves each path.
 */
export const REDACT_PATHS = [
  'token',
  'authorization',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
  'err.headers.authorization',
  'err.headers.cookie',
  // Notification sinks (src/notify/): their URLs (Slack's carries its secret) and keys.
  'secret',
  'routing_key',
  'sink_url',
];

export type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  /** json (default): one JSON object a line; pretty: for a terminal (colours when stdout is a TTY). */
  format?: LogFormat;
  /** Destination stream; defaults to stdout (fd 1), surviving write errors. Tests pass a memory stream. */
  destination?: DestinationStream;
}

/**
 * What every drproxy pino logger shares (main log, audit file): level names rather than pino's
 * numbers (what HAProxy, NGINX and most log pipelines show and filter on), pid and hostname
 * (pino's own base fields, which a custom base replaces unless repeated), ISO 8601 times.
 */
export function baseLogOptions(extra: Record<string, unknown> = {}): LoggerOptions {
  return {
    base: { service: 'drproxy', pid: process.pid, hostname: hostname(), ...extra },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
}

export function createLogger(opts: LogOptions = {}): Logger {
  const dest = opts.destination ?? stdoutDestination();
  return pino(
    { level: opts.level ?? 'info', ...baseLogOptions() },
    opts.format === 'pretty' ? new PrettyDestination(dest, { color: opts.destination === undefined && process.stdout.isTTY === true }) : dest,
  );
}
