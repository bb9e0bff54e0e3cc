/**
 * Where access-log lines go: the process's stdout destination (shared with the main log, so
 * that lines never interleave mid-line), or a file through a destination of its own. Both are
 * log-destination.ts's ResilientDestination: pino's sonic-boom, asynchronous, bounded
 * (max_buffer), and surviving a failing destination (ENOSPC, EIO: lines dropped and counted,
 * retried a second later). A new file destination is opened at each reload: `kill -HUP` after
 * moving the file away is log rotation.
 *
 * Lines are copied into a 32 KiB buffer and handed over a block at a time, when it is full or
 * at least once a second (as NGINX's `access_log … buffer=32k flush=1s`): sonic-boom's write
 * costs ~2.5 µs a call (it measures and appends to its pending string each time), and a
 * request pays only for a copy of its line. The buffer is outside the JavaScript heap, so that
 * lines waiting for their block do not live through young-generation collections (as strings
 * they would be copied and promoted). A line reaches its destination up to a second after its
 * request.
 */
import type { AccessLogConfig } from '../config/types.js';
import { ResilientDestination, stdoutDestination } from '../log-destination.js';
import { AccessLog, accessLogStats, type LineSink } from './access-log.js';

const BLOCK_BYTES = 32 * 1024;
const FLUSH_MS = 1000;

/** The access log `cfg` asks for, or undefined when it is off. */
export function openAccessLog(cfg: AccessLogConfig, random?: () => number): AccessLog | undefined {
  if (cfg.mode === 'off') return undefined;
  if (cfg.destination === 'stdout') return new AccessLog(cfg, new Blocks(stdoutDestination(), true), random);
  const file = new ResilientDestination(cfg.destination, {
    maxBuffer: cfg.max_buffer,
    stats: accessLogStats,
    counters: 'drproxy_access_log_dropped_total',
  });
  return new AccessLog(cfg, new Blocks(file, false), random);
}

class Blocks implements LineSink {
  private readonly block = Buffer.allocUnsafe(BLOCK_BYTES);
  private bytes = 0;
  private lines = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly dest: ResilientDestination,
    /** stdout: the destination counts its drops as the main log's; count them as ours too. */
    private readonly shared: boolean,
  ) {
    this.timer = setInterval(flushBlocks, FLUSH_MS, this).unref();
  }

  write(line: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8: room for the worst case, or flush first.
    if (this.bytes + line.length * 3 > BLOCK_BYTES) {
      this.flush();
      if (line.length * 3 > BLOCK_BYTES) {
        this.hand(line, 1); // a line longer than a block (a path of many kilobytes): on its own
        return;
      }
    }
    this.bytes += this.block.write(line, this.bytes);
    this.lines++;
  }

  flush(): void {
    if (this.lines === 0) return;
    const text = this.block.toString('utf8', 0, this.bytes);
    const n = this.lines;
    this.bytes = 0;
    this.lines = 0;
    this.hand(text, n);
  }

  private hand(text: string, lines: number): void {
    if (!this.dest.write(text, lines) && this.shared) accessLogStats.droppedLines += lines;
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    return this.shared ? Promise.resolve() : this.dest.end();
  }
}

function flushBlocks(b: Blocks): void {
  b.flush();
}
