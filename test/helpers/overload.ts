/** Keep this process's event loop busy for `ms`: drproxy "overloaded", its timers firing late. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* busy */
  }
}
