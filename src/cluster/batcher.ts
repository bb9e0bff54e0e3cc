/**
 * Collects what callers hand in during one turn of the event loop and flushes it once, on the
 * next turn (setImmediate: after every microtask of this turn), so that a region's worth of
 * commits or acknowledgements issued together becomes a few etcd transactions.
 */
export class TurnBatcher<T> {
  #items: T[] = [];
  #scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const items = this.#items;
      this.#items = [];
      this.flush(items);
    });
  }
}

/** etcd's default `--max-txn-ops`: compares, and operations per branch, in one transaction. */
export const MAX_TXN_OPS = 128;

/** `items` cut into runs of at most `size`. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
