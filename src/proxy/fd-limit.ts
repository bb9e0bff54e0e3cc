/**
 * How many client connections the data plane may hold without starving the rest of the
 * process of file descriptors. Past RLIMIT_NOFILE, accept() fails with EMFILE and libuv resets
 * pending connections to make room: admin calls, health probes, upstream connects and state
 * writes would all fail with the data plane (issue 16, item 1).
 */
import { readFileSync } from 'node:fs';

/**
 * The soft RLIMIT_NOFILE of this process, or undefined when it cannot be read (not Linux) or
 * is unlimited. Node has no getrlimit(); /proc/self/limits is what `ulimit -n` reports.
 */
export function openFileLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  let text: string;
  try {
    text = read();
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/**
 * Client connections that fit under `softLimit` descriptors: `reserve` are kept for everything
 * else, and each client connection may hold one upstream socket while it is busy, so half of
 * the rest. A limit too small for the reserve still leaves the data plane a quarter of it.
 */
export function clientConnectionCap(softLimit: number, reserve: number): number {
  return Math.max(Math.floor((softLimit - reserve) / 2), Math.floor(softLimit / 4), 1);
}
