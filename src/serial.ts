/**
 * One action at a time: each `run` starts after the previous one has settled (resolved or
 * rejected), and its own result or error goes to its caller only. A tenant's flips and operator
 * actions, and the kill switch's writes, are serialised this way.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Resolves once every action queued so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }
}
