/**
 * Logging: pino JSON lines. Secrets are redacted wherever they may appear; state changes and
 * admin actions go through `audit()` so that they are marked records (`audit: true`) that a log
 * pipeline can route to a separate, retained stream.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { ResilientDestination } from './log-destination.js';

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
];

export interface LogOptions {
  level?: string;
  /** Destination stream; defaults to stdout (fd 1), surviving write errors. Tests pass a memory stream. */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'drproxy' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    opts.destination ?? new ResilientDestination(1),
  );
}
