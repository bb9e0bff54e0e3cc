/**
 * Where access-log lines go: the process's stdout destination (shared with the main log, so
 * that lines never interleave mid-line), or a file through a destination of its own. Both are
 * log-destination.ts's ResilientDestination: pino's sonic-boom, asynchronous, bounded
 * (max_buffer), and surviving a failing destination (ENOSPC, EIO: lines dropped and counted,
 * retried a second later). A new file destination is opened at each reload: `kill -HUP` after
 * moving the file away is log rotation.
 *
 * Lines are batched per turn of the event loop and handed over as one string: sonic-boom's
 * write costs ~2.5 µs a call here (it measures and appends to its pending string each time),
 * and one call per turn instead of one per request took the writer's cost from ~2.8 to ~0.4 µs
 * CPU a line (100,000 lines of 323 bytes, in batches of 20).
 */
import type { AccessLogConfig } from '../config/types.js';
import { ResilientDestination, stdoutDestination } from '../log-destination.js';
import { AccessLog, accessLogStats, type LineSink } from './access-log.js';

/**
 * A file is written in blocks of at least 32 KiB, and at least once a second (NGINX's
 * `access_log … buffer=32k flush=1s`): one system call per ~100 lines, not one per turn.
 */
const FILE_BATCH = { minLength: 32 * 1024, maxWrite: 64 * 1024, flushMs: 1000 };

/** Lines gathered in one turn at most; past it (a turn that long is an overload) they are dropped. */
const MAX_BATCH = 8192;

/** The access log `cfg` asks for, or undefined when it is off. */
export function openAccessLog(cfg: AccessLogConfig, random?: () => number): AccessLog | undefined {
  if (cfg.mode === 'off') return undefined;
  if (cfg.destination === 'stdout') return new AccessLog(cfg, new Batch(stdoutDestination(), true), random);
  const file = new ResilientDestination(cfg.destination, {
    maxBuffer: cfg.max_buffer,
    stats: accessLogStats,
    counters: 'drproxy_access_log_dropped_total',
    batch: FILE_BATCH,
  });
  return new AccessLog(cfg, new Batch(file, false), random);
}

class Batch implements LineSink {
  private lines: string[] = [];
  private scheduled = false;

  constructor(
    private readonly dest: ResilientDestination,
    /** stdout: the destination counts its drops as the main log's; count them as ours too. */
    private readonly shared: boolean,
  ) {}

  write(line: string): void {
    if (this.lines.length >= MAX_BATCH) {
      accessLogStats.droppedLines++;
      return;
    }
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(flushBatch, this);
    }
  }

  flush(): void {
    this.scheduled = false;
    const n = this.lines.length;
    if (n === 0) return;
    const text = n === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    if (!this.dest.write(text, n) && this.shared) accessLogStats.droppedLines += n;
  }

  close(): Promise<void> {
    this.flush();
    return this.shared ? Promise.resolve() : this.dest.end();
  }
}

function flushBatch(b: Batch): void {
  b.flush();
}
