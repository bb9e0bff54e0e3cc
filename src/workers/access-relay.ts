/**
 * A worker's access log (per worker, docs/design.md "Every core: threads"). To a file, each
 * worker opens its own writer on the same file (access-log-writer.ts): the file is opened with
 * O_APPEND and each write(2) is a block of whole lines, so on a local Linux file system blocks
 * from different threads never interleave inside a line (not so on NFS, where O_APPEND is not
 * atomic). To stdout, that would not hold: a pipe keeps a write whole only up to PIPE_BUF (4 KiB)
 * and a block is up to 32 KiB, written beside the main log's lines. So a worker's stdout lines
 * go to the main thread in blocks (one message a second or per 32 KiB), and the main thread's
 * stdout destination writes them: one writer of fd 1 for the whole process.
 */
import type { AccessLogConfig } from '../config/types.js';
import { AccessLog, type LineSink } from '../proxy/access-log.js';
import { openAccessLog } from '../proxy/access-log-writer.js';

const FLUSH_MS = 1000;
const BLOCK_CHARS = 32 * 1024;

export function openWorkerAccessLog(cfg: AccessLogConfig, post: (text: string, lines: number) => void): AccessLog | undefined {
  if (cfg.mode === 'off' || cfg.destination !== 'stdout') return openAccessLog(cfg);
  return new AccessLog(cfg, new RelaySink(post));
}

class RelaySink implements LineSink {
  private parts: string[] = [];
  private chars = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly post: (text: string, lines: number) => void) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS).unref();
  }

  write(line: string): void {
    this.parts.push(line);
    this.chars += line.length;
    if (this.chars >= BLOCK_CHARS) this.flush();
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    return Promise.resolve();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const n = this.parts.length;
    const text = this.parts.join('');
    this.parts = [];
    this.chars = 0;
    this.post(text, n);
  }
}
