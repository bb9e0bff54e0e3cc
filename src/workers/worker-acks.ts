/**
 * The acknowledged-routing protocol between the main thread and its data-plane workers, on the
 * same book as clustered mode's replicas (cluster/acks.ts `AckBook`): the members are worker ids
 * instead of replica ids, a worker's exit is what a replica's expired lease is (no longer waited
 * for), and a wait settles once every live worker has acknowledged the stage of the epoch or a
 * later one. What etcd's lease TTL bounds for a replica, `ackTimeoutMs` bounds here: a worker
 * that has not acknowledged by then is reported as hung (its owner terminates it; its exit then
 * settles the wait), so a flip never waits on one stuck thread for longer than that.
 */
import { AckBook, covers } from '../cluster/acks.js';
import type { Acknowledgement, AckStage } from '../state/coordinator.js';

/** The main thread serves no request: its own "ack" covers every stage of every epoch. */
const MAIN = 'main';
const ALWAYS = { epoch: Number.POSITIVE_INFINITY, stage: 'routed' as const };

export interface WorkerAcksOptions {
  /** How long a wait may take before the workers that have not acknowledged are reported. */
  readonly ackTimeoutMs: number;
  /** A worker did not acknowledge in time: terminate it (its exit calls `leave`). */
  readonly onHung: (worker: string, tenant: string, epoch: number, stage: AckStage) => void;
}

export class WorkerAcks {
  private readonly book = new AckBook(MAIN, () => ALWAYS);

  constructor(private readonly opts: WorkerAcksOptions) {}

  /** A worker started (before its first route set is posted to it). */
  join(worker: string): void {
    this.book.replicaUp(worker);
  }

  /** A worker exited: nobody waits for it any more. */
  leave(worker: string): void {
    this.book.replicaDown(worker);
  }

  /** A worker's `ack` message. */
  ack(worker: string, tenant: string, epoch: number, stage: AckStage): void {
    this.book.setAck(worker, tenant, { epoch, stage });
  }

  live(): string[] {
    return this.book.live();
  }

  /**
   * Settles once every live worker has acknowledged `stage` of `epoch` (or later) for the
   * tenant; undefined when that is already so (no worker, or all acked): as
   * Coordinator.acknowledged, so that one wait composes with the other.
   */
  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement {
    if (this.book.satisfied(tenant, epoch, stage)) return undefined;
    const done = this.book.wait(tenant, epoch, stage);
    const timer = setTimeout(() => this.reportLaggards(tenant, epoch, stage), this.opts.ackTimeoutMs);
    timer.unref();
    return done.finally(() => clearTimeout(timer));
  }

  /**
   * Every pending wait fails: a worker that did not acknowledge was terminated and has not
   * exited (stuck in native code). It may still hold connections to the old site, so no flip
   * may go past it; it stays a member, and later waits fail the same way until it exits.
   */
  fail(err: Error): void {
    this.book.rejectAll(err);
  }

  /** Every wait fails (the process is shutting down). */
  close(err: Error): void {
    this.book.rejectAll(err);
  }

  private reportLaggards(tenant: string, epoch: number, stage: AckStage): void {
    for (const worker of this.book.live()) {
      if (!covers(this.book.acksOf(worker).get(tenant), epoch, stage)) this.opts.onHung(worker, tenant, epoch, stage);
    }
  }
}
