/**
 * drproxy's own small interface over the `etcd3` client (docs/design.md, "Clustered mode:
 * etcd"): reads with their revision, guarded transactions, prefix watches that resume from a
 * revision, and leases granted, kept alive once and revoked. Every call has a deadline and
 * fails with a typed DrProxyError (DRP_ETCD_*); nothing an etcd outage does ends the process.
 *
 * etcd3 1.1.2 is configured around three hazards of its defaults: a per-host circuit breaker
 * that refuses every call for 5 s after three failures (a lease would expire behind it), a
 * global retry that multiplies the deadline by three, and a watch backoff growing to 30 s.
 * Its `dialTimeout` option is read by nothing, so the dial deadline is the first call's.
 */
import { Etcd3, type IOptions, type IKeyValue, type ICompare, type IRequestOp, type Watcher } from 'etcd3';
import { DrProxyError } from '../errors.js';
import { toDrProxyError, withDeadline } from './etcd-errors.js';
import { WatchManager } from 'etcd3/lib/watch.js';

/**
 * etcd3 1.1.2 throws from its watch stream's 'data' handler when a response names a watcher it
 * has already removed (a watch etcd cancelled, e.g. compacted, while its replacement was being
 * created); the throw escapes as an unhandled rejection, and that ends a Node process. Such a
 * response is for a watch nobody listens to any more: it is dropped. (etcd3 is pinned exactly.)
 */
const watchManager = WatchManager.prototype as unknown as { handleResponse(res: { watch_id: string }): void; watchers: Array<{ id: string | null }> };
const handleResponse = watchManager.handleResponse;
watchManager.handleResponse = function (this: typeof watchManager, res) {
  if (this.watchers.some((w) => w.id === res.watch_id)) handleResponse.call(this, res);
};

export interface EtcdClientOptions {
  /** Client URLs (`http://127.0.0.1:2379`). */
  endpoints: readonly string[];
  /** Deadline of every request, ms. */
  requestTimeout: number;
  /** Deadline of the first request (connect), ms. */
  dialTimeout: number;
  /** Told each request's operation (`get`, `txn`, `keepalive`…), duration and outcome (metrics). */
  observe?: (op: string, seconds: number, ok: boolean) => void;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** Lease ID ('0' when none). */
  lease: string;
}

/** One clause of a transaction's guard: the key's field compared with a value. */
export interface Compare {
  key: string;
  target: 'create' | 'mod' | 'version' | 'value' | 'lease';
  op?: '==' | '!=' | '<' | '>';
  value: number | string;
}

export type Op = { put: string; value: string; lease?: string } | { delete: string; prefix?: boolean };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction (its own when it wrote). */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface WatchHandlers {
  /** Events of one revision batch; `revision` is the header's (resume from revision + 1). */
  onEvents(events: WatchEvent[], revision: number): void;
  /** The watch was cancelled by etcd (e.g. compacted past `fromRevision`): re-read, re-watch. */
  onError?(err: DrProxyError): void;
  /** The watch stream broke; etcd3 reconnects and resumes after the last revision seen. */
  onDisconnected?(err: DrProxyError): void;
}

export interface EtcdWatch {
  cancel(): Promise<void>;
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;

/** Runs each call once: our callers retry on their own schedule (keepalives every TTL/3). */
const passThrough = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
} as unknown as NonNullable<FaultHandling['global']>;

interface Backoff {
  duration: number;
  next(): Backoff;
}
/** Watch reconnects: 100 ms doubling to 1 s (etcd3's default grows to 30 s). */
function backoff(ms: number): Backoff {
  return { duration: ms, next: () => backoff(Math.min(ms * 2, 1000)) };
}

const TARGET = { create: 'Create', mod: 'Mod', version: 'Version', value: 'Value', lease: 'Lease' } as const;
const FIELD = { create: 'create_revision', mod: 'mod_revision', version: 'version', value: 'value', lease: 'lease' } as const;
const RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;

export class EtcdClient {
  readonly #client: Etcd3;
  readonly #timeout: number;
  #dialed = false;
  readonly #dialTimeout: number;
  readonly #observe: EtcdClientOptions['observe'];

  constructor(options: EtcdClientOptions) {
    this.#timeout = options.requestTimeout;
    this.#dialTimeout = options.dialTimeout;
    this.#observe = options.observe;
    const timeout = options.requestTimeout;
    this.#client = new Etcd3({
      hosts: [...options.endpoints],
      faultHandling: { host: () => passThrough, global: passThrough, watchBackoff: backoff(50) as unknown as FaultHandling['watchBackoff'] },
      // gRPC deadlines cancel the call on the server too; our own timer (withDeadline) settles it.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // A black-holed connection is found by pings (etcd refuses pings more often than 5 s).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': timeout,
      },
    });
  }

  /** Runs one unary call with its deadline (the dial deadline until one call has succeeded). */
  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    const ms = this.#dialed ? this.#timeout : Math.max(this.#timeout, this.#dialTimeout);
    const t0 = performance.now();
    try {
      const result = await withDeadline(run(), ms, what);
      this.#dialed = true;
      this.#observe?.(opOf(what), (performance.now() - t0) / 1000, true);
      return result;
    } catch (err) {
      this.#observe?.(opOf(what), (performance.now() - t0) / 1000, false);
      throw toDrProxyError(err, what);
    }
  }

  async get(key: string): Promise<{ kv: KeyValue | undefined; revision: number }> {
    const res = await this.#call(`get ${key}`, () => this.#client.kv.range({ key: Buffer.from(key) }));
    return { kv: res.kvs[0] && toKeyValue(res.kvs[0]), revision: Number(res.header.revision) };
  }

  /** Every key under `prefix`, at `revision` when given (several reads at one revision), else the latest. */
  async getPrefix(prefix: string, revision?: number): Promise<{ kvs: KeyValue[]; revision: number }> {
    const req = { key: Buffer.from(prefix), range_end: prefixEnd(prefix), ...(revision !== undefined && { revision: String(revision) }) };
    const res = await this.#call(`get ${prefix}*`, () => this.#client.kv.range(req));
    return { kvs: res.kvs.map(toKeyValue), revision: Number(res.header.revision) };
  }

  /** One transaction: when every clause of `guard` holds, `then` runs, else `otherwise`. */
  async txn(guard: readonly Compare[], then: readonly Op[], otherwise: readonly Op[] = []): Promise<TxnResult> {
    const req = { compare: guard.map(toCompare), success: then.map(toRequestOp), failure: otherwise.map(toRequestOp) };
    const res = await this.#call('txn', () => this.#client.kv.txn(req));
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  /** A new lease of `ttlSeconds`; its ID. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.#call('lease grant', () => this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    return res.ID;
  }

  /** One keepalive; the TTL etcd granted (s). DRP_ETCD_LEASE_LOST when the lease is gone. */
  async keepAliveOnce(leaseId: string): Promise<number> {
    const ttl = await this.#call(`lease keepalive ${leaseId}`, () => this.#keepAlive(leaseId, this.#timeout));
    if (ttl <= 0) throw new DrProxyError('DRP_ETCD_LEASE_LOST', `etcd lease ${leaseId} has expired or was revoked`);
    return ttl;
  }

  /** LeaseKeepAlive is a stream in etcd's API: one short stream per keepalive, with a deadline. */
  async #keepAlive(leaseId: string, timeout: number): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeout });
    return new Promise<number>((resolve, reject) => {
      stream.on('data', (res: { TTL: string }) => {
        resolve(Number(res.TTL));
        stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => reject(new DrProxyError('DRP_ETCD_UNAVAILABLE', 'etcd ended the keepalive stream without an answer')));
      stream.write({ ID: leaseId });
    });
  }

  async revokeLease(leaseId: string): Promise<void> {
    try {
      await this.#call(`lease revoke ${leaseId}`, () => this.#client.leaseClient.leaseRevoke({ ID: leaseId }));
    } catch (err) {
      if ((err as DrProxyError).code !== 'DRP_ETCD_LEASE_LOST') throw err;
    }
  }

  /** Watches every key under `prefix` from `fromRevision` (inclusive); survives reconnects. */
  watchPrefix(prefix: string, fromRevision: number, handlers: WatchHandlers): EtcdWatch {
    const watcher: Watcher = this.#client.watch().prefix(prefix).startRevision(String(fromRevision)).watcher();
    watcher.on('data', (res) => {
      if (res.events.length === 0) return;
      handlers.onEvents(
        res.events.map((ev) => ({ type: ev.type === 'Delete' ? 'delete' : 'put', kv: toKeyValue(ev.kv) })),
        Number(res.header.revision),
      );
    });
    // An EventEmitter 'error' without a listener would throw: always listened to.
    watcher.on('error', (err) => handlers.onError?.(toDrProxyError(err, `watch ${prefix}`)));
    watcher.on('disconnected', (err) => handlers.onDisconnected?.(toDrProxyError(err, `watch ${prefix}`)));
    return { cancel: () => withDeadline(watcher.cancel(), this.#timeout, 'watch cancel').catch(() => undefined) };
  }

  /** Closes every connection; pending calls fail with DRP_ETCD_UNAVAILABLE. */
  close(): void {
    this.#client.close();
  }
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: String(kv.lease),
  };
}

function toCompare(c: Compare): ICompare {
  const value = c.target === 'value' ? Buffer.from(String(c.value)) : String(c.value);
  return { key: Buffer.from(c.key), target: TARGET[c.target], result: RESULT[c.op ?? '=='], [FIELD[c.target]]: value };
}

function toRequestOp(op: Op): IRequestOp {
  if ('put' in op) return { request_put: { key: Buffer.from(op.put), value: Buffer.from(op.value), ...(op.lease !== undefined && { lease: op.lease }) } };
  return { request_delete_range: { key: Buffer.from(op.delete), ...(op.prefix === true && { range_end: prefixEnd(op.delete) }) } };
}

/** The range end that selects every key starting with `prefix` (etcd's "prefix + 1"). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The operation of a call's description (`get /drproxy/…` → `get`, `lease keepalive 42` → `lease_keepalive`): a bounded metric label. */
function opOf(what: string): string {
  const [a = what, b] = what.split(' ', 2);
  return a === 'lease' && b !== undefined ? `lease_${b}` : a;
}
