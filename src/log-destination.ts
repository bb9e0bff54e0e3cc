/**
 * The log's destination: pino's asynchronous sonic-boom on stdout, made to survive the
 * destination failing. Unhandled, one write error (ENOSPC on a file, EIO, EPIPE from a closed
 * pipe) would be an 'error' event with no listener, which ends the process.
 *
 * - EAGAIN (a full non-blocking pipe) is retried by sonic-boom itself; what is waiting is
 *   bounded by MAX_BUFFER bytes, past which new lines are dropped and counted.
 * - Any other error drops the failed stream (and what it held, counted); lines written in the
 *   next RETRY_MS are dropped and counted; then a fresh stream on the same fd tries again, so
 *   logging resumes once there is space (or a reader) again.
 * - The first error, and then at most one a minute, is reported on stderr (the log itself is
 *   what failed), and every one is counted in `logStats` (drproxy_log_write_errors_total).
 */
import { writeSync } from 'node:fs';
import { pino, type DestinationStream } from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/** Buffered log bytes at most (sonic-boom maxLength): a stuck reader costs this much memory. */
export const MAX_BUFFER = 8 * 1024 * 1024;
const RETRY_MS = 1000;
const ALERT_EVERY_MS = 60_000;

/** Process-wide tallies of the stdout log (read by the metrics). */
export const logStats = { writeErrors: 0, droppedLines: 0 };

export class ResilientDestination implements DestinationStream {
  private stream: SonicBoom | undefined;
  private retryAt = 0;
  private lastAlert = 0;

  constructor(
    private readonly fd = 1,
    private readonly opts: { maxBuffer?: number; retryMs?: number; alertFd?: number } = {},
  ) {}

  write(line: string): void {
    if (this.stream === undefined) {
      if (Date.now() < this.retryAt) {
        logStats.droppedLines++;
        return;
      }
      this.stream = this.open();
    }
    this.stream.write(line);
  }

  /** pino's logger.flush(): hands over to the stream (async; nothing to do when it is dropped). */
  flush(cb?: (err?: Error) => void): void {
    if (this.stream) this.stream.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    try {
      this.stream?.flushSync();
    } catch {
      // At exit, with the destination broken: nothing more to do.
    }
  }

  private open(): SonicBoom {
    const s = pino.destination({ dest: this.fd, sync: false, maxLength: this.opts.maxBuffer ?? MAX_BUFFER });
    s.on('drop', () => logStats.droppedLines++);
    s.on('error', (err: NodeJS.ErrnoException) => this.failed(s, err));
    return s;
  }

  private failed(s: SonicBoom, err: NodeJS.ErrnoException): void {
    logStats.writeErrors++;
    this.alert(err);
    if (s !== this.stream) return;
    this.stream = undefined;
    this.retryAt = Date.now() + (this.opts.retryMs ?? RETRY_MS);
    logStats.droppedLines++; // at least the line that failed; the rest of the buffer goes with it
    try {
      s.destroy();
    } catch {
      // pino made it a no-op after EPIPE.
    }
  }

  private alert(err: NodeJS.ErrnoException): void {
    const now = Date.now();
    if (now - this.lastAlert < ALERT_EVERY_MS) return;
    this.lastAlert = now;
    try {
      writeSync(this.opts.alertFd ?? 2, `drproxy: the log on fd ${this.fd} cannot be written (${err.code ?? err.message}); lines are dropped and counted (drproxy_log_write_errors_total) until it can\n`);
    } catch {
      // stderr is gone too.
    }
  }
}
