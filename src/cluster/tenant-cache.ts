/**
 * Every tenant's committed record as last seen in etcd, with its mod revision (the revision a
 * leader's commit compares against), and the listeners of `Coordinator.watch`. Records only move
 * forward: one older than the cached one (a late read, a replayed event) changes nothing.
 *
 * Own commits are told apart so that `watch` never reports them: the coordinator records the
 * value it writes (`own`) before sending, and an event carrying that exact value is ours even
 * when it arrives before the transaction's answer (or after an answer that timed out).
 */
import { DrProxyError } from '../errors.js';
import type { TenantState } from '../state/types.js';
import { addKeyed } from './keyed-listeners.js';

export interface CachedTenant {
  /** The record as stored (JSON). */
  readonly value: string;
  readonly modRevision: number;
}

type Listener = (state: TenantState) => void;

export class TenantCache {
  readonly #records = new Map<string, CachedTenant>();
  readonly #own = new Map<string, string>();
  readonly #listeners = new Map<string, Set<Listener>>();

  /** `onListenerError`: a listener that throws is reported there, and the others still run. */
  constructor(private readonly onListenerError: (err: unknown, tenant: string) => void = () => {}) {}

  get(tenant: string): CachedTenant | undefined {
    return this.#records.get(tenant);
  }

  /** The committed state; a damaged record throws DRP_STATE_CORRUPT. */
  load(tenant: string): TenantState | undefined {
    const rec = this.#records.get(tenant);
    return rec === undefined ? undefined : parseState(tenant, rec.value);
  }

  /** The value this process is about to write for `tenant`. */
  markOwn(tenant: string, value: string): void {
    this.#own.set(tenant, value);
  }

  /**
   * A record read or watched at `modRevision`: cached when newer than the cached one, and
   * reported to the tenant's listeners unless this process wrote it (`ownRevision`: its commit
   * answered with that revision). Returns whether the cache moved.
   */
  apply(tenant: string, value: string, modRevision: number, ownRevision = false): boolean {
    const cur = this.#records.get(tenant);
    if (cur !== undefined && cur.modRevision >= modRevision) return false;
    this.#records.set(tenant, { value, modRevision });
    if (!ownRevision && this.#own.get(tenant) !== value) this.#notify(tenant, value);
    return true;
  }

  /** The key was deleted (by hand: drproxy never deletes a tenant): forget it. */
  forget(tenant: string): void {
    this.#records.delete(tenant);
  }

  tenants(): IterableIterator<string> {
    return this.#records.keys();
  }

  watch(tenant: string, listener: Listener): () => void {
    return addKeyed(this.#listeners, tenant, listener);
  }

  #notify(tenant: string, value: string): void {
    const set = this.#listeners.get(tenant);
    if (set === undefined || set.size === 0) return;
    let state: TenantState;
    try {
      state = parseState(tenant, value);
    } catch {
      return; // load() reports the damage to whoever reads it
    }
    for (const listener of [...set]) {
      try {
        listener(state);
      } catch (err) {
        this.onListenerError(err, tenant);
      }
    }
  }
}

export function parseState(tenant: string, value: string): TenantState {
  let state: unknown;
  try {
    state = JSON.parse(value);
  } catch (err) {
    throw new DrProxyError('DRP_STATE_CORRUPT', `tenant ${tenant}: its record in etcd is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const s = state as Partial<TenantState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    s.tenant !== tenant ||
    !Number.isSafeInteger(s.epoch) ||
    (s.epoch as number) < 0 ||
    !['active', 'failing_over', 'frozen'].includes(s.phase as string) ||
    typeof s.active !== 'string' ||
    !Array.isArray(s.fenced)
  ) {
    throw new DrProxyError('DRP_STATE_CORRUPT', `tenant ${tenant}: its record in etcd is damaged (missing or wrong tenant, epoch, phase, active or fenced)`);
  }
  return s as TenantState;
}
