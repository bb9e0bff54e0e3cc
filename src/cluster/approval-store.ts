/**
 * Two-person approval requests in etcd (clustered mode, docs/approvals.md): one key per request,
 * `P/approvals/<id>` (keys.ts), its value the Approval JSON, so that an operator may ask on one
 * replica and a second operator approve on another (behind a load balancer).
 *
 * - Create: a put guarded by "the key does not exist" (create revision 0), under a lease of its
 *   own of `approval_timeout + RETENTION_MS`: a decided or expired request stays listed for a
 *   day, then etcd drops its key by itself (no replica sweeps, and nothing piles up).
 * - Decide (approve, reject) and expire: a transaction guarded by the mod revision that was read
 *   and checked, so that of two replicas deciding one request at once exactly one succeeds; the
 *   other reads it again and answers as the in-memory store does (409 approval_decided, 410
 *   approval_expired). Every write keeps the key's lease (a put without one would detach it).
 * - Expiry is by `expires_at` against this replica's clock (replicas' clocks are assumed NTP
 *   synchronised: a skew moves the expiry by as much). The replica whose transaction marks a
 *   request expired reports it once (onExpire: the audit event `approval_expired`).
 *
 * Reads need no leadership: any replica lists and decides. Every etcd call has the client's
 * deadline and fails with a typed DRP_ETCD_* error (the admin API answers 503).
 */
import { DrProxyError } from '../errors.js';
import { checkDecidable, isExpired, MAX_PENDING, MAX_RECENT, newApproval, tooManyPending, type Approval, type ApprovalStore, type NewApproval } from '../admin/approvals.js';
import type { EtcdClient, KeyValue, Op } from './etcd.js';
import { clusterKeys, type ClusterKeys } from './keys.js';

/** How long a request's key outlives its expiry (GET /approvals history), ms. */
export const RETENTION_MS = 24 * 3600_000;
/** Ids are UUIDs (approvals.ts); anything else is no request (never a key outside P/approvals/). */
const ID = /^[A-Za-z0-9-]{1,64}$/;
/** Decisions retried when another replica changed the request in between (then the checks answer). */
const ATTEMPTS = 5;

export interface EtcdApprovalStoreOptions {
  client: Pick<EtcdClient, 'get' | 'getPrefix' | 'txn' | 'grantLease'>;
  /** state.etcd.prefix */
  prefix: string;
  /** Called once fleet-wide for each request that expired undecided: by the replica that marked it. */
  onExpire?: (a: Approval) => void;
  now?: () => number;
  retentionMs?: number;
}

interface Read {
  kv: KeyValue;
  a: Approval;
}

export class EtcdApprovalStore implements ApprovalStore {
  readonly #o: EtcdApprovalStoreOptions;
  readonly #keys: ClusterKeys;
  readonly #now: () => number;
  /** The mod revision and lease of the requests this replica decided (for setOutcome). */
  readonly #written = new WeakMap<Approval, { key: string; modRevision: number; lease: string }>();

  constructor(options: EtcdApprovalStoreOptions) {
    this.#o = options;
    this.#keys = clusterKeys(options.prefix);
    this.#now = options.now ?? Date.now;
  }

  async create(r: NewApproval, timeoutMs: number): Promise<Approval> {
    const pending = (await this.#sweep()).filter((x) => x.a.status === 'pending');
    if (pending.length >= MAX_PENDING) throw tooManyPending();
    const a = newApproval(r, this.#now(), timeoutMs);
    const key = this.#keys.approval(a.id);
    const lease = await this.#o.client.grantLease(Math.ceil((timeoutMs + (this.#o.retentionMs ?? RETENTION_MS)) / 1000));
    const res = await this.#o.client.txn([{ key, target: 'create', value: 0 }], [{ put: key, value: JSON.stringify(a), lease }]);
    if (!res.succeeded) throw new DrProxyError('DRP_STATE_CONFLICT', `approval request ${a.id} already exists in etcd`);
    return a;
  }

  async check(id: string, by: string, decision: 'approved' | 'rejected'): Promise<Approval> {
    const r = await this.#get(id);
    return checkDecidable(id, r && (await this.#expireIfDue(r)).a, by, decision, this.#now());
  }

  async decide(id: string, by: string, decision: 'approved' | 'rejected', reason: string): Promise<Approval> {
    for (let i = 0; i < ATTEMPTS; i++) {
      const r = await this.#get(id);
      const seen = checkDecidable(id, r && (await this.#expireIfDue(r)).a, by, decision, this.#now());
      const decided: Approval = { ...seen, status: decision, decided_by: by, decided_at: new Date(this.#now()).toISOString(), decision_reason: reason };
      const revision = await this.#replace(r!, decided);
      if (revision !== undefined) return decided;
      // Changed by another replica since it was read: read again, the checks say what it became.
    }
    throw new DrProxyError('DRP_STATE_CONFLICT', `approval request ${id} kept changing while this replica decided it; try again`);
  }

  async setOutcome(a: Approval, outcome: NonNullable<Approval['outcome']>): Promise<void> {
    a.outcome = outcome;
    const w = this.#written.get(a);
    if (!w) return;
    // Guarded: a key its lease dropped meanwhile is not written back without one.
    await this.#o.client.txn([{ key: w.key, target: 'mod', value: w.modRevision }], [putOf(w.key, a, w.lease)]);
  }

  async list(): Promise<Approval[]> {
    const all = (await this.#sweep()).map((r) => r.a);
    const newest = (x: Approval, y: Approval): number => (x.requested_at < y.requested_at ? 1 : x.requested_at > y.requested_at ? -1 : 0);
    const pending = all.filter((a) => a.status === 'pending').sort(newest);
    const recent = all.filter((a) => a.status !== 'pending').sort((x, y) => ((x.decided_at ?? x.expires_at) < (y.decided_at ?? y.expires_at) ? 1 : -1));
    return [...pending, ...recent.slice(0, MAX_RECENT)];
  }

  /** Every request, those pending past their expiry marked expired. */
  async #sweep(): Promise<Read[]> {
    const { kvs } = await this.#o.client.getPrefix(this.#keys.approvals);
    const reads = kvs.flatMap((kv) => {
      const a = parse(kv.value);
      return a ? [{ kv, a }] : [];
    });
    return Promise.all(reads.map((r) => this.#expireIfDue(r)));
  }

  async #get(id: string): Promise<Read | undefined> {
    if (!ID.test(id)) return undefined;
    const { kv } = await this.#o.client.get(this.#keys.approval(id));
    if (!kv) return undefined;
    const a = parse(kv.value);
    if (!a) throw new DrProxyError('DRP_STATE_CORRUPT', `etcd ${kv.key}: not an approval request (the value is not its JSON)`);
    return { kv, a };
  }

  /** A pending request past its expiry: marked expired (by one replica, which reports it). */
  async #expireIfDue(r: Read): Promise<Read> {
    if (r.a.status !== 'pending' || !isExpired(r.a, this.#now())) return r;
    const expired: Approval = { ...r.a, status: 'expired' };
    if ((await this.#replace(r, expired)) !== undefined) this.#o.onExpire?.(expired);
    // Marked here or by another replica: expired either way.
    return { kv: r.kv, a: expired };
  }

  /** Writes `a` over what `r` read, unless the key changed since; the new mod revision, or undefined. */
  async #replace(r: Read, a: Approval): Promise<number | undefined> {
    const res = await this.#o.client.txn([{ key: r.kv.key, target: 'mod', value: r.kv.modRevision }], [putOf(r.kv.key, a, r.kv.lease)]);
    if (!res.succeeded) return undefined;
    this.#written.set(a, { key: r.kv.key, modRevision: res.revision, lease: r.kv.lease });
    return res.revision;
  }
}

function putOf(key: string, a: Approval, lease: string): Op {
  return { put: key, value: JSON.stringify(a), ...(lease !== '0' && { lease }) };
}

function parse(value: string): Approval | undefined {
  try {
    const a = JSON.parse(value) as Approval;
    return typeof a?.id === 'string' && typeof a.status === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}
