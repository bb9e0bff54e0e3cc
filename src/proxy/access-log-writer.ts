/**
 * Where access-log lines go: the process's stdout destination (shared with the main log, so
 * that lines never interleave mid-line), or a file through a destination of its own. Both are
 * log-destination.ts's ResilientDestination: pino's sonic-boom, asynchronous and batched (lines
 * accumulate while a write is in flight and go out in one write), bounded (max_buffer), and
 * surviving a failing destination (ENOSPC, EIO: lines dropped and counted, retried a second
 * later). A new file destination is opened at each reload: `kill -HUP` after moving the file
 * away is log rotation.
 */
import type { AccessLogConfig } from '../config/types.js';
import { ResilientDestination, stdoutDestination } from '../log-destination.js';
import { AccessLog, accessLogStats, type LineSink } from './access-log.js';

/** The access log `cfg` asks for, or undefined when it is off. */
export function openAccessLog(cfg: AccessLogConfig, random?: () => number): AccessLog | undefined {
  if (cfg.mode === 'off') return undefined;
  return new AccessLog(cfg, sinkFor(cfg), random);
}

function sinkFor(cfg: AccessLogConfig): LineSink {
  if (cfg.destination === 'stdout') {
    const out = stdoutDestination();
    // Lines lost in a failed write of the shared stream are counted as the main log's.
    return { write: (line) => out.write(line), countsDrops: false, close: () => Promise.resolve() };
  }
  const file = new ResilientDestination(cfg.destination, {
    maxBuffer: cfg.max_buffer,
    stats: accessLogStats,
    counters: 'drproxy_access_log_dropped_total',
  });
  return { write: (line) => file.write(line), countsDrops: true, close: () => file.end() };
}
