/**
 * The data-plane worker threads of this process, as the main thread runs them: started, fed the
 * full route set before anything else (a worker opens its listeners only after applying it, so a
 * new or restarted worker never serves an older route than the others), their `ack` messages
 * booked in WorkerAcks, restarted when they exit, terminated when they do not acknowledge in
 * time. Every other message (passive-health batches, metrics) goes to `onMessage`.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { AckStage, Acknowledgement } from '../state/coordinator.js';
import { WorkerAcks } from './worker-acks.js';
import { DrProxyError } from '../errors.js';

export interface WorkerSetOptions {
  readonly script: URL | string;
  readonly count: number;
  /** Passed to each worker as workerData.config (plain data). */
  readonly config?: unknown;
  readonly ackTimeoutMs: number;
  /** After terminate(), how long an exit may take before the worker counts as stuck. */
  readonly exitTimeoutMs: number;
  /** The message that brings a (re)started worker up to date: the full route set. */
  readonly snapshot: () => unknown;
  readonly onMessage?: (worker: string, msg: unknown) => void;
  /** An `ack` message, before it is booked (and settles a wait): what it carries besides the stage. */
  readonly onAck?: (worker: string, msg: { tenant: string; epoch: number; stage: AckStage; drain?: unknown }) => void;
  /** A terminated worker did not exit: the caller fails what waits on it (DRP_WORKER_HUNG). */
  readonly onStuck?: (worker: string) => void;
  /** A worker exited (before any restart). */
  readonly onExit?: (worker: string) => void;
  readonly log?: { warn(obj: object, msg: string): void };
  /** Each worker's V8 heap limits (heap-sizing.ts). */
  readonly resourceLimits?: ResourceLimits;
}

interface AckMessage {
  type: 'ack';
  tenant: string;
  epoch: number;
  stage: AckStage;
  drain?: unknown;
}

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;

export class WorkerSet {
  readonly acks: WorkerAcks;
  private readonly workers = new Map<string, Worker>();
  private serial = 0;
  private restartsInRow = 0;
  private closing = false;
  private config: unknown;

  constructor(private readonly opts: WorkerSetOptions) {
    this.config = opts.config;
    this.acks = new WorkerAcks({ ackTimeoutMs: opts.ackTimeoutMs, onHung: (id, tenant, epoch, stage) => this.hung(id, tenant, epoch, stage) });
  }

  /** Start `n` workers (all of `count` by default; more later with a second call). */
  start(n = this.opts.count): void {
    for (let i = 0; i < n; i++) this.spawn();
  }

  /** The workerData.config of workers started from now on (a restarted one included). */
  setConfig(config: unknown): void {
    this.config = config;
  }

  /** The ids of the workers running now. */
  ids(): string[] {
    return [...this.workers.keys()];
  }

  post(msg: unknown): void {
    for (const w of this.workers.values()) w.postMessage(msg);
  }

  /** To one worker (false when it is gone). */
  postTo(id: string, msg: unknown): boolean {
    const w = this.workers.get(id);
    w?.postMessage(msg);
    return w !== undefined;
  }

  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement {
    return this.acks.acknowledged(tenant, epoch, stage);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.acks.close(new Error('the data-plane workers are shutting down'));
    await Promise.all([...this.workers.values()].map((w) => w.terminate()));
  }

  /**
   * Graceful stop: `msg` (the worker's shutdown) to every worker, which exits once its requests
   * are done; whatever still runs `graceMs` later is terminated. No restarts from now on.
   */
  async shutdown(msg: unknown, graceMs: number): Promise<void> {
    this.closing = true;
    const exits = [...this.workers.values()].map((w) => new Promise<void>((resolve) => (w.threadId === -1 ? resolve() : w.once('exit', () => resolve()))));
    this.post(msg);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(exits), late]);
    clearTimeout(timer);
    await this.close();
  }

  /** End one worker now, as a crash would (tests; a hung worker): it is restarted. */
  terminate(id: string): Promise<number> | undefined {
    return this.workers.get(id)?.terminate();
  }

  private spawn(): void {
    const id = `w${++this.serial}`;
    // The thread's name (top, ps -L, /proc/PID/task/*/comm) lets an operator pin it to a CPU.
    const w = new Worker(this.opts.script, { workerData: { id, config: this.config }, name: `drproxy-worker-${id}`, resourceLimits: this.opts.resourceLimits });
    this.workers.set(id, w);
    this.acks.join(id);
    w.postMessage(this.opts.snapshot());
    w.on('message', (m: unknown) => this.message(id, m));
    // An uncaught error ends the worker; 'exit' follows and handles it.
    w.on('error', (err) => this.opts.log?.warn({ err, worker: id }, 'data-plane worker failed'));
    w.once('exit', (code) => this.exited(id, code));
  }

  private message(id: string, m: unknown): void {
    const msg = m as Partial<AckMessage> | null;
    if (msg?.type === 'ack' && typeof msg.tenant === 'string' && Number.isSafeInteger(msg.epoch) && (msg.stage === 'drained' || msg.stage === 'routed')) {
      this.restartsInRow = 0;
      this.opts.onAck?.(id, msg as AckMessage);
      this.acks.ack(id, msg.tenant, msg.epoch!, msg.stage);
      return;
    }
    this.opts.onMessage?.(id, m);
  }

  private exited(id: string, code: number): void {
    this.workers.delete(id);
    this.stuckIds.delete(id);
    this.acks.leave(id);
    this.opts.onExit?.(id);
    if (this.closing) return;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** this.restartsInRow++);
    this.opts.log?.warn({ worker: id, code, restart_in_ms: delay }, 'data-plane worker exited; starting a new one');
    setTimeout(() => {
      if (!this.closing) this.spawn();
    }, delay).unref();
  }

  /** Workers terminated that have not exited (stuck in native code). */
  readonly stuckIds = new Set<string>();

  private stuck(id: string): void {
    this.stuckIds.add(id);
    this.acks.fail(new DrProxyError('DRP_WORKER_HUNG', `data-plane worker ${id} did not exit within ${this.opts.exitTimeoutMs} ms of terminate(): it may still send to the old site, so this step fails`));
    this.opts.onStuck?.(id);
  }

  private hung(id: string, tenant: string, epoch: number, stage: AckStage): void {
    const w = this.workers.get(id);
    if (w === undefined) return;
    this.opts.log?.warn({ worker: id, tenant, epoch, stage, ack_timeout_ms: this.opts.ackTimeoutMs }, 'data-plane worker did not acknowledge in time; terminating it');
    const stuck = setTimeout(() => this.stuck(id), this.opts.exitTimeoutMs);
    stuck.unref();
    w.once('exit', () => clearTimeout(stuck));
    void w.terminate();
  }
}
