/**
 * Timing marks for the kill benchmark (bench/kill-gap.js): where drproxy's time goes between a
 * primary's SIGKILL and the first answer from the backup. Off unless DRPROXY_TRACE_MARKS=1 in
 * the environment (read once at start); off, a call site costs one test of a module constant,
 * and the hot-path call sites test TRACE themselves before building a mark's name.
 *
 * On, the first MAX_PER_NAME occurrences of each mark are kept in memory with their wall-clock
 * time (performance.timeOrigin + performance.now(), comparable with the benchmark's own clock)
 * and the process's CPU time (process.cpuUsage(), µs: what drproxy itself spent between two
 * marks, whatever else the machine's cores were doing meanwhile)
 * and written to stderr as JSON lines FLUSH_MS after the first mark of a burst: never during the
 * milliseconds being measured. SIGUSR2 (sent by the benchmark just before its kill) starts
 * every count again, the workers' too, so that the marks after it are the first ones again.
 */
import { isMainThread } from 'node:worker_threads';

export const TRACE = process.env.DRPROXY_TRACE_MARKS === '1';

const MAX_PER_NAME = 3;
const FLUSH_MS = 1000;

const counts = new Map<string, number>();
let buffered: Array<{ mark: string; at: number; cpu: number; detail?: string | number }> = [];
let flushing = false;
/** Run at each SIGUSR2 (the main thread's: signals reach no worker, which is told by message). */
const resetHooks: Array<() => void> = [];
if (TRACE && isMainThread) {
  process.on('SIGUSR2', () => {
    counts.clear();
    for (const hook of resetHooks) hook();
  });
}

/** Count every mark again from now (a worker, told of the main thread's SIGUSR2). */
export function resetMarks(): void {
  counts.clear();
}

/** `hook` runs at each SIGUSR2 while tracing (the threaded data plane tells its workers). */
export function onMarksReset(hook: () => void): void {
  if (TRACE) resetHooks.push(hook);
}

/** Record `name` (with an optional detail) now, if tracing is on. */
export function mark(name: string, detail?: string | number): void {
  if (!TRACE) return;
  const n = counts.get(name) ?? 0;
  if (n >= MAX_PER_NAME) return;
  counts.set(name, n + 1);
  const cpu = process.cpuUsage();
  buffered.push({ mark: name, at: performance.timeOrigin + performance.now(), cpu: cpu.user + cpu.system, ...(detail !== undefined && { detail }) });
  if (flushing) return;
  flushing = true;
  setTimeout(flush, FLUSH_MS).unref();
}

function flush(): void {
  flushing = false;
  const lines = buffered.map((m) => `${JSON.stringify({ trace: m.mark, at: m.at, cpu: m.cpu, ...(m.detail !== undefined && { detail: m.detail }) })}\n`).join('');
  buffered = [];
  process.stderr.write(lines);
}
