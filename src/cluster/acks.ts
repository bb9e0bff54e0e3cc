/**
 * The live replicas (keys under `P/replicas/`) and their acknowledgements (`P/acks/<id>/<t>`),
 * as last seen in etcd, and the leader's waits on them (`Coordinator.acknowledged`). A wait
 * settles once every live replica has acknowledged the stage of the epoch, or a later one; a
 * replica whose registration key goes (its lease expired) is no longer waited for.
 */
import type { AckStage } from '../state/coordinator.js';

export interface AckRecord {
  readonly epoch: number;
  readonly stage: AckStage;
  /** When the replica acknowledged (ISO time), for the record. */
  readonly at?: string;
}

const RANK: Record<AckStage, number> = { drained: 0, routed: 1 };

/** `ack` says its replica reached `stage` of `epoch` or went beyond it. */
export function covers(ack: AckRecord | undefined, epoch: number, stage: AckStage): boolean {
  return ack !== undefined && (ack.epoch > epoch || (ack.epoch === epoch && RANK[ack.stage] >= RANK[stage]));
}

/** The ack stored under a key, or undefined when the value is not one. */
export function parseAck(value: string): AckRecord | undefined {
  try {
    const a = JSON.parse(value) as Partial<AckRecord>;
    if (Number.isSafeInteger(a.epoch) && (a.stage === 'drained' || a.stage === 'routed')) return { epoch: a.epoch!, stage: a.stage, at: a.at };
  } catch {
    // A damaged ack counts as none: the replica is waited for until it acks again or its lease ends.
  }
  return undefined;
}

interface Waiter {
  epoch: number;
  stage: AckStage;
  resolve(): void;
  reject(err: Error): void;
}

export class AckBook {
  #replicas = new Set<string>();
  #acks = new Map<string, Map<string, AckRecord>>();
  readonly #waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly selfId: string,
    /** This process's own latest ack of a tenant, known before etcd echoes it back. */
    private readonly ownAck: (tenant: string) => AckRecord | undefined,
  ) {}

  /** Replaces everything with a fresh read, then settles the waits it satisfies. */
  reset(replicas: Iterable<string>, acks: Iterable<[replicaId: string, tenant: string, ack: AckRecord]>): void {
    this.#replicas = new Set(replicas);
    this.#acks = new Map();
    for (const [id, t, ack] of acks) this.#book(id).set(t, ack);
    this.#settleAll();
  }

  replicaUp(id: string): void {
    this.#replicas.add(id);
  }

  /** The replica's lease expired (or it closed): nobody waits for it any more. */
  replicaDown(id: string): void {
    this.#replicas.delete(id);
    this.#acks.delete(id);
    this.#settleAll();
  }

  setAck(id: string, tenant: string, ack: AckRecord | undefined): void {
    if (ack === undefined) this.#acks.get(id)?.delete(tenant);
    else this.#book(id).set(tenant, ack);
    this.settle(tenant);
  }

  live(): string[] {
    return [...this.#replicas];
  }

  /** The acks of every replica, per tenant (for status). */
  acksOf(id: string): ReadonlyMap<string, AckRecord> {
    return this.#acks.get(id) ?? new Map();
  }

  satisfied(tenant: string, epoch: number, stage: AckStage): boolean {
    if (!covers(this.ownAck(tenant), epoch, stage) && !covers(this.#acks.get(this.selfId)?.get(tenant), epoch, stage)) return false;
    for (const id of this.#replicas) {
      if (id !== this.selfId && !covers(this.#acks.get(id)?.get(tenant), epoch, stage)) return false;
    }
    return true;
  }

  wait(tenant: string, epoch: number, stage: AckStage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let set = this.#waiters.get(tenant);
      if (set === undefined) this.#waiters.set(tenant, (set = new Set()));
      set.add({ epoch, stage, resolve, reject });
    });
  }

  /** Settles the tenant's waits that are satisfied now. */
  settle(tenant: string): void {
    const set = this.#waiters.get(tenant);
    if (set === undefined) return;
    for (const w of set) {
      if (!this.satisfied(tenant, w.epoch, w.stage)) continue;
      set.delete(w);
      w.resolve();
    }
    if (set.size === 0) this.#waiters.delete(tenant);
  }

  /** Every wait fails (this process stopped being the leader). */
  rejectAll(err: Error): void {
    const all = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const set of all) for (const w of set) w.reject(err);
  }

  #settleAll(): void {
    for (const tenant of [...this.#waiters.keys()]) this.settle(tenant);
  }

  #book(id: string): Map<string, AckRecord> {
    let book = this.#acks.get(id);
    if (book === undefined) this.#acks.set(id, (book = new Map()));
    return book;
  }
}
