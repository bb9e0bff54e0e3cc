/**
 * How many data-plane worker threads `server.workers` means on this Node. `reusePort` (each
 * worker listening on the same port) came in Node 22.12 and 23.1; before, Node ignores it and a
 * second listener on the port fails with EADDRINUSE, and sockets cannot be handed between
 * threads, so more than one worker is clamped to one (a warning, not a config error: the same
 * file must start on every Node).
 */
import { availableParallelism } from 'node:os';

/** `auto`: one worker a core but one, at most this many (past it, CPU a request grows: design.md). */
export const AUTO_MAX_WORKERS = 8;

export interface WorkerCount {
  /** Workers to start (0: none, the inline data plane). */
  readonly count: number;
  /** Set when the configured count was clamped: why, for one warn line. */
  readonly clamped?: string;
}

/** Whether this Node's listen() honours `reusePort` (Linux SO_REUSEPORT). */
export function hasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * `auto` leaves one core to the control plane (probes, the flip, the state writer, admin): at a
 * crash the workers are busiest exactly when the flip needs the CPU (design.md, "The default").
 * One core: no worker (a thread hop and a second heap would buy nothing). Without reusePort,
 * `auto` quietly means one worker; an explicit count is clamped with a warning.
 */
export function workerCount(setting: number | 'auto', version = process.versions.node, cores = availableParallelism()): WorkerCount {
  if (setting === 'auto') {
    const spare = Math.max(0, Math.min(cores - 1, AUTO_MAX_WORKERS));
    return { count: hasReusePort(version) ? spare : Math.min(spare, 1) };
  }
  if (setting <= 1 || hasReusePort(version)) return { count: setting };
  return { count: 1, clamped: `server.workers is ${setting}, but Node ${version} has no reusePort (Node >= 22.12): running 1 data-plane worker` };
}
