/**
 * The kill switch of automatic flips in clustered mode (docs/safety.md): one etcd key,
 * `P/automatic` (keys.ts), holding the AutomaticState as JSON; no key means automatic flips on.
 * `POST /automatic` on any replica writes it (committed before the answer); every replica reads
 * it before its tenants start and watches it, so that each replica's gate, /status and metric
 * agree, and a new leader finds the switch as it is. A switch that cannot be read (etcd
 * unreachable, a damaged value) keeps automatic flips OFF with an alert, the safe side, and is
 * read again until it can be: then the stored switch applies.
 */
import type { Logger } from '../log.js';
import { AUTOMATIC_ON, parseAutomatic, type AutomaticState, type AutomaticStore } from '../safety/kill-switch.js';
import type { EtcdClient, EtcdWatch, WatchEvent } from './etcd.js';
import { clusterKeys } from './keys.js';

export interface EtcdKillSwitchOptions {
  client: Pick<EtcdClient, 'get' | 'txn' | 'watchPrefix'>;
  /** state.etcd.prefix */
  prefix: string;
  log: Logger;
  /** Re-read back-off while the key cannot be read, ms: doubles from `min` to `max`. Default 250 → 2000. */
  retry?: { min: number; max: number };
}

export class EtcdKillSwitch implements AutomaticStore {
  readonly key: string;
  readonly #o: EtcdKillSwitchOptions;
  /** The mod revision of the switch applied (the read's revision when there is no key); 0: never read. */
  #rev = 0;
  #current: AutomaticState = AUTOMATIC_ON;
  /** The applied switch is a fail-safe OFF (unreadable): the next successful read applies whatever it finds. */
  #unsure = false;
  #listener: ((s: AutomaticState) => void) | undefined;
  #watch: EtcdWatch | undefined;
  /** Bumped by each read: events of an older watch are ignored. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #closed = false;

  constructor(o: EtcdKillSwitchOptions) {
    this.#o = o;
    this.key = clusterKeys(o.prefix).automatic;
    this.#delay = o.retry?.min ?? 250;
  }

  onChange(listener: (s: AutomaticState) => void): void {
    this.#listener = listener;
  }

  /** Start-up: the stored switch, and the watch from the read on; unreadable: OFF with a problem, read again later. */
  async load(): Promise<{ state: AutomaticState; problem?: string }> {
    try {
      const r = await this.#read();
      this.#rev = r.rev;
      this.#current = r.state;
      this.#unsure = r.problem !== undefined;
      return r;
    } catch (err) {
      const state = this.#unreadable(`etcd: ${(err as Error).message}`);
      this.#current = state;
      this.#unsure = true;
      this.#retry();
      return { state, problem: state.reason };
    }
  }

  /** Committed in etcd before it answers; the switch now current (a newer write by another replica wins). */
  async save(s: AutomaticState): Promise<AutomaticState> {
    const { revision } = await this.#o.client.txn([], [{ put: this.key, value: JSON.stringify(s) }]);
    if (revision > this.#rev) {
      this.#rev = revision;
      this.#current = s;
      this.#unsure = false;
    }
    return this.#current;
  }

  /** Read the key again and apply it when it moved (a reconnect, a new leadership); failures retry with back-off. */
  refresh(): Promise<void> {
    return this.#read().then(
      (r) => this.#adopt(r.state, r.rev, r.problem !== undefined),
      (err: unknown) => {
        this.#o.log.warn({ err }, 'kill switch: cannot read it in etcd; retrying');
        this.#retry();
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#generation++;
    clearTimeout(this.#timer);
    await this.#watch?.cancel();
  }

  /** Reads the key and watches it from the next revision. */
  async #read(): Promise<{ state: AutomaticState; problem?: string; rev: number }> {
    const { kv, revision } = await this.#o.client.get(this.key);
    let state = AUTOMATIC_ON;
    let problem: string | undefined;
    if (kv !== undefined) {
      try {
        state = parseAutomatic(kv.value, `etcd ${this.key}`);
      } catch (err) {
        state = this.#unreadable((err as Error).message);
        problem = state.reason;
      }
    }
    if (!this.#closed) this.#rewatch(revision + 1);
    return { state, rev: kv?.modRevision ?? revision, ...(problem !== undefined && { problem }) };
  }

  #rewatch(from: number): void {
    const generation = ++this.#generation;
    void this.#watch?.cancel();
    this.#watch = this.#o.client.watchPrefix(this.key, from, {
      onEvents: (events) => {
        if (generation === this.#generation) for (const ev of events) this.#onEvent(ev);
      },
      // Compacted past our revision: read again (and watch anew).
      onError: () => {
        if (generation === this.#generation) void this.refresh();
      },
      // etcd3 resumes after the last revision seen; read again as well, in case a change was missed.
      onDisconnected: () => {
        if (generation === this.#generation) this.#retry();
      },
    });
  }

  #onEvent(ev: WatchEvent): void {
    if (ev.kv.key !== this.key) return; // the prefix watch also matches longer keys
    let state = AUTOMATIC_ON;
    let damaged = false;
    if (ev.type === 'put') {
      try {
        state = parseAutomatic(ev.kv.value, `etcd ${this.key}`);
      } catch (err) {
        state = this.#unreadable((err as Error).message);
        damaged = true;
        this.#o.log.error({ alert: true, event: 'kill_switch_unreadable' }, state.reason);
      }
    }
    this.#adopt(state, ev.kv.modRevision, damaged);
  }

  /** Applies a switch seen in etcd at `rev` when it is newer than the one applied (or that one was a fail-safe OFF). */
  #adopt(state: AutomaticState, rev: number, unsure: boolean): void {
    if (this.#closed || (rev <= this.#rev && !this.#unsure)) return;
    this.#rev = Math.max(rev, this.#rev);
    const changed = JSON.stringify(state) !== JSON.stringify(this.#current);
    this.#current = state;
    this.#unsure = unsure;
    if (changed) this.#listener?.(state);
  }

  #retry(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#read().then(
        (r) => {
          this.#delay = this.#o.retry?.min ?? 250;
          this.#adopt(r.state, r.rev, r.problem !== undefined);
        },
        () => {
          this.#delay = Math.min(this.#delay * 2, this.#o.retry?.max ?? 2000);
          this.#retry();
        },
      );
    }, this.#delay);
    this.#timer.unref();
  }

  #unreadable(message: string): AutomaticState {
    const reason = `kill switch ${this.key} cannot be read (${message}): automatic flips stay OFF until it can be read or an operator switches them (POST /automatic)`;
    return { enabled: false, reason, by: 'drproxy', at: new Date().toISOString() };
  }
}
