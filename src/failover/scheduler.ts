/**
 * Timers as the control plane uses them (setTimeout/clearTimeout semantics), injectable so that a
 * test can fire a decision's wait without sleeping. The real one does not keep the process alive.
 */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
