/**
 * The log's destination: pino's asynchronous sonic-boom on stdout (or on a file: the access
 * log), made to survive the destination failing. Unhandled, one write error (ENOSPC on a file, EIO, EPIPE from a closed
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

export interface LogStats {
  writeErrors: number;
  droppedLines: number;
}

/** Process-wide tallies of the stdout log (read by the metrics). */
export const logStats: LogStats = { writeErrors: 0, droppedLines: 0 };

let stdout: ResilientDestination | undefined;

/**
 * The one destination on fd 1 of the process: the main log and an access log sent to stdout
 * share it, so that their lines never interleave mid-line (two streams writing one pipe would).
 */
export function stdoutDestination(): ResilientDestination {
  return (stdout ??= new ResilientDestination(1));
}

export interface DestinationOptions {
  maxBuffer?: number;
  retryMs?: number;
  alertFd?: number;
  /** Where failures are counted (default: the stdout log's `logStats`). */
  stats?: LogStats;
  /** Names the counters in the stderr alert. */
  counters?: string;
}

export class ResilientDestination implements DestinationStream {
  private stream: SonicBoom | undefined;
  private retryAt = 0;
  private lastAlert = 0;
  /** Set by the stream's synchronous 'drop' event: the line being written was refused. */
  private refused = false;
  private readonly stats: LogStats;

  /** `dest`: a file descriptor, or a file path (opened for appending, its directory created). */
  constructor(
    private readonly dest: number | string = 1,
    private readonly opts: DestinationOptions = {},
  ) {
    this.stats = opts.stats ?? logStats;
  }

  /**
   * Returns false when the text was dropped (buffer full, or the destination failed recently).
   * `lines`: how many lines `text` holds (a batch), for the count of dropped lines.
   */
  write(text: string, lines = 1): boolean {
    if (this.stream === undefined) {
      if (Date.now() < this.retryAt) {
        this.stats.droppedLines += lines;
        return false;
      }
      this.stream = this.open();
    }
    this.refused = false;
    this.stream.write(text);
    if (!this.refused) return true;
    this.stats.droppedLines += lines;
    return false;
  }

  /**
   * Write what is buffered, then close (a file destination replaced at reload, or at stop).
   * Resolves when closed, or after `waitMs` at most: a stuck disk must not hold up a stop.
   */
  end(waitMs = 1000): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    this.retryAt = Infinity;
    if (s === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs).unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      s.once('close', done);
      s.once('error', done);
      try {
        s.end();
      } catch {
        // Already broken: what it held is lost (and was counted).
        done();
      }
    });
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
    const file = typeof this.dest === 'string';
    const s = pino.destination({ dest: this.dest, sync: false, maxLength: this.opts.maxBuffer ?? MAX_BUFFER, ...(file && { mkdir: true, append: true }) });
    // Emitted synchronously by write() when the buffer is full: counted there.
    s.on('drop', () => (this.refused = true));
    s.on('error', (err: NodeJS.ErrnoException) => this.failed(s, err));
    return s;
  }

  private failed(s: SonicBoom, err: NodeJS.ErrnoException): void {
    this.stats.writeErrors++;
    this.alert(err);
    if (s !== this.stream) return;
    this.stream = undefined;
    this.retryAt = Date.now() + (this.opts.retryMs ?? RETRY_MS);
    this.stats.droppedLines++; // at least the line that failed; the rest of the buffer goes with it
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
      const where = typeof this.dest === 'string' ? this.dest : `fd ${this.dest}`;
      writeSync(this.opts.alertFd ?? 2, `drproxy: the log on ${where} cannot be written (${err.code ?? err.message}); lines are dropped and counted (${this.opts.counters ?? 'drproxy_log_write_errors_total'}) until it can\n`);
    } catch {
      // stderr is gone too.
    }
  }
}
