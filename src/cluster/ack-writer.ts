/**
 * Writes this replica's acknowledgements (`P/acks/<id>/<t>` under its lease): coalesced per
 * tenant (only the latest stage of the latest epoch is worth writing) and flushed once per
 * turn, MAX_TXN_OPS puts per transaction. Acks that cannot be written now (no valid lease, etcd
 * unreachable) stay pending and go with the next flush: after a failed write a retry is
 * scheduled, and the coordinator flushes again once it has re-registered under a new lease.
 */
import { MAX_TXN_OPS, chunked } from './batcher.js';
import type { AckRecord } from './acks.js';
import { covers } from './acks.js';
import type { EtcdClient } from './etcd.js';

export interface AckWriterDeps {
  client: Pick<EtcdClient, 'txn'>;
  key(tenant: string): string;
  /** Our lease while valid (and registered); undefined otherwise. */
  leaseId(): string | undefined;
  onTxn(puts: number): void;
  onError(err: unknown): void;
  /** Delay of a retry after a failed write, ms. */
  retryDelay?: number;
}

export class AckWriter {
  readonly #pending = new Map<string, AckRecord>();
  #scheduled = false;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly deps: AckWriterDeps) {}

  /** Queues `ack` unless an ack already queued covers it. */
  write(tenant: string, ack: AckRecord): void {
    const queued = this.#pending.get(tenant);
    if (queued === undefined || !covers(queued, ack.epoch, ack.stage)) this.#pending.set(tenant, ack);
    this.#schedule();
  }

  /** Writes every pending ack now (after a re-registration). */
  flushSoon(): void {
    if (this.#pending.size > 0) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const lease = this.deps.leaseId();
    if (lease === undefined || this.#pending.size === 0 || this.#closed) return;
    const batch = [...this.#pending];
    this.#pending.clear();
    await Promise.all(chunked(batch, MAX_TXN_OPS).map((run) => this.#send(run, lease)));
  }

  async #send(run: Array<[string, AckRecord]>, lease: string): Promise<void> {
    try {
      this.deps.onTxn(run.length);
      await this.deps.client.txn([], run.map(([t, ack]) => ({ put: this.deps.key(t), value: JSON.stringify(ack), lease })));
    } catch (err) {
      this.deps.onError(err);
      // Put back what no later ack replaced, and try again later.
      for (const [t, ack] of run) if (!this.#pending.has(t)) this.#pending.set(t, ack);
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.#schedule(), this.deps.retryDelay ?? 250);
    }
  }
}
