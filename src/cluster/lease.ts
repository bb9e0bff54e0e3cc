/**
 * Our own etcd lease keeper (docs/design.md, "Clustered mode: leases and leadership").
 *
 * etcd expires a lease TTL after the last keepalive it received; `etcd3`'s Lease reports
 * `lost` only after ~2×TTL of silence, so a leader trusting it could act for a whole TTL after
 * the next leader was elected. This keeper sends its own keepalives (every TTL/3) and keeps its
 * own deadline on a monotonic clock: valid until the *send* time of the last keepalive that
 * succeeded + TTL − margin. etcd can only have received that keepalive after we sent it, so
 * its expiry is later than ours. `lost` fires the moment the deadline passes (a timer re-armed
 * on each success), whatever the client says; a lost lease is never used again: `start()`
 * grants a new one.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { DrProxyError } from '../errors.js';
import type { EtcdClient } from './etcd.js';

/** Milliseconds on a clock that never jumps (performance.now, not Date.now). */
export type MonotonicClock = () => number;
export const monotonicNow: MonotonicClock = () => performance.now();

export interface LeaseKeeperOptions {
  client: Pick<EtcdClient, 'grantLease' | 'keepAliveOnce' | 'revokeLease'>;
  /** Lease TTL, ms (a whole number of seconds). */
  ttl: number;
  /** Taken off the deadline for timer lateness and clock rate drift, ms. Default: max(TTL/5, 200). */
  margin?: number;
  clock?: MonotonicClock;
}

export interface LeaseKeeperEvents {
  /** A keepalive (or the grant) succeeded: the new deadline, on the monotonic clock. */
  renewed: [deadline: number];
  /** The deadline passed, or etcd said the lease is gone. The lease is never used again. */
  lost: [reason: DrProxyError];
}

type State = 'idle' | 'valid' | 'lost' | 'closed';

export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  readonly ttl: number;
  readonly margin: number;
  readonly #client: LeaseKeeperOptions['client'];
  readonly #clock: MonotonicClock;
  #state: State = 'idle';
  #id: string | undefined;
  #deadline = -Infinity;
  #lostTimer: NodeJS.Timeout | undefined;
  #sendTimer: NodeJS.Timeout | undefined;
  /** Bumped on every grant and loss: a late answer about an older lease changes nothing. */
  #generation = 0;

  constructor(options: LeaseKeeperOptions) {
    super();
    this.ttl = options.ttl;
    this.margin = options.margin ?? Math.max(options.ttl / 5, 200);
    this.#client = options.client;
    this.#clock = options.clock ?? monotonicNow;
    if (this.margin >= this.ttl / 2) throw new RangeError(`lease margin ${this.margin}ms must be under half the TTL (${this.ttl}ms)`);
  }

  /** The lease ID while valid by our own deadline; undefined otherwise. */
  get id(): string | undefined {
    return this.isValid() ? this.#id : undefined;
  }

  /** Valid by our own deadline (checked now, not when the timer last ran). */
  isValid(): boolean {
    return this.#state === 'valid' && this.#clock() < this.#deadline;
  }

  /** The deadline on the monotonic clock (-Infinity when not valid). */
  get deadline(): number {
    return this.#state === 'valid' ? this.#deadline : -Infinity;
  }

  /** Grants a new lease (never reuses a lost one) and starts keeping it alive; its ID. */
  async start(): Promise<string> {
    if (this.#state === 'closed') throw new DrProxyError('DRP_ETCD_LEASE_LOST', 'the lease keeper was closed');
    if (this.isValid()) return this.#id!;
    this.#stopTimers();
    const generation = ++this.#generation;
    const sent = this.#clock();
    const id = await this.#client.grantLease(Math.round(this.ttl / 1000));
    if (generation !== this.#generation || (this.#state as State) === 'closed') {
      this.#client.revokeLease(id).catch(() => undefined);
      throw new DrProxyError('DRP_ETCD_LEASE_LOST', `lease ${id} was granted after the keeper moved on`);
    }
    this.#id = id;
    this.#state = 'valid';
    this.#renewed(sent);
    this.#scheduleSend(sent);
    return id;
  }

  /** Stops the keepalives and revokes the lease (its keys go at once). Best effort. */
  async close(): Promise<void> {
    const id = this.#state === 'valid' ? this.#id : undefined;
    this.#state = 'closed';
    this.#generation++;
    this.#stopTimers();
    if (id !== undefined) await this.#client.revokeLease(id).catch(() => undefined);
  }

  #renewed(sentAt: number): void {
    const deadline = sentAt + this.ttl - this.margin;
    if (deadline <= this.#deadline) return;
    this.#deadline = deadline;
    this.#armLostTimer();
    this.emit('renewed', deadline);
  }

  #armLostTimer(): void {
    clearTimeout(this.#lostTimer);
    this.#lostTimer = setTimeout(() => this.#checkDeadline(), Math.max(0, this.#deadline - this.#clock()));
  }

  #checkDeadline(): void {
    if (this.#state !== 'valid') return;
    // A timer may fire early against an injected clock: re-arm until the deadline has passed.
    if (this.#clock() < this.#deadline) return this.#armLostTimer();
    this.#lose(new DrProxyError('DRP_ETCD_LEASE_LOST', `lease ${this.#id}: no keepalive succeeded within ${this.ttl - this.margin}ms (TTL ${this.ttl}ms − margin ${this.margin}ms)`));
  }

  #lose(reason: DrProxyError): void {
    if (this.#state !== 'valid') return;
    this.#state = 'lost';
    this.#generation++;
    this.#deadline = -Infinity;
    this.#stopTimers();
    this.emit('lost', reason);
  }

  #scheduleSend(lastSent: number): void {
    const wait = Math.max(0, lastSent + this.ttl / 3 - this.#clock());
    this.#sendTimer = setTimeout(() => void this.#keepAlive(), wait);
  }

  async #keepAlive(): Promise<void> {
    const generation = this.#generation;
    const id = this.#id!;
    const sent = this.#clock();
    try {
      await this.#client.keepAliveOnce(id);
      if (generation !== this.#generation) return;
      // An answer that arrives after our deadline does not revive the lease.
      if (this.#clock() >= this.#deadline) return this.#checkDeadline();
      this.#renewed(sent);
    } catch (err) {
      if (generation !== this.#generation) return;
      if ((err as DrProxyError).code === 'DRP_ETCD_LEASE_LOST') return this.#lose(err as DrProxyError);
      // Unavailable or timed out: the deadline timer decides; try again on schedule.
    }
    this.#scheduleSend(sent);
  }

  #stopTimers(): void {
    clearTimeout(this.#lostTimer);
    clearTimeout(this.#sendTimer);
    this.#lostTimer = undefined;
    this.#sendTimer = undefined;
  }
}
