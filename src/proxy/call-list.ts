/**
 * The calls in flight on a backend, as an intrusive doubly linked list (the links live on the
 * calls themselves) instead of a `Set`.
 *
 * Why not a Set: a Set's hash table is replaced whenever it grows or shrinks, and the table it
 * leaves behind still points at the calls it held. Once such a table has been promoted to the
 * old generation it stays there, dead but uncollected, until the next mark-compact, and every
 * call it points at is kept alive by every scavenge meanwhile (old-to-young pointers are
 * scavenger roots), and so is everything those calls hold: requests, responses, headers. Under
 * load that fed itself: after ~10 s drproxy promoted ~1.7 MB per scavenge instead of ~0.1 MB
 * and ran a mark-compact every 1.5 s, with 4–6 ms scavenges (bench/RESULTS.md, "What this run
 * changed", item 0;
 * found with `--trace-gc` and confirmed by removing the Set). A list has no table: a call
 * that leaves it keeps no link to the others, and nothing keeps it.
 */
export interface Listed {
  listPrev: Listed | null;
  listNext: Listed | null;
}

export class CallList<T extends Listed> {
  private head: T | null = null;
  /** The call added longest ago that is still in the list. */
  private tail: T | null = null;
  size = 0;

  add(call: T): void {
    call.listPrev = null;
    call.listNext = this.head;
    if (this.head !== null) this.head.listPrev = call;
    else this.tail = call;
    this.head = call;
    this.size++;
  }

  /** The call added longest ago (calls are added when sent: the oldest attempt in flight). */
  oldest(): T | null {
    return this.tail;
  }

  /** The call added just before `call` (towards the newest), or null. */
  newer(call: T): T | null {
    return call.listPrev as T | null;
  }

  /** Remove `call`; false when it is not in this list. */
  delete(call: T): boolean {
    if (call.listPrev !== null) call.listPrev.listNext = call.listNext;
    else if (this.head === call) this.head = call.listNext as T | null;
    else return false;
    if (call.listNext !== null) call.listNext.listPrev = call.listPrev;
    else this.tail = call.listPrev as T | null;
    call.listPrev = null;
    call.listNext = null;
    this.size--;
    return true;
  }

  /** The calls in the list now (newest first), as an array that later changes do not touch. */
  toArray(): T[] {
    const out: T[] = [];
    for (let c = this.head; c !== null; c = c.listNext as T | null) out.push(c);
    return out;
  }
}
