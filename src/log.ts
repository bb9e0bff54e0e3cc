/**
 * Logging: pino JSON lines. Secrets are redacted wherever they may appear; state changes and
 * admin actions go through `audit()` so that they are marked records (`audit: true`) that a log
 * pipeline can route to a separate, retained stream.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'cookie',
  '*.cookie',
];

export interface LogOptions {
  level?: string;
  /** Destination stream; defaults to stdout (fd 1). Tests pass a memory stream. */
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
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
