/**
 * Two-person approval (docs/approvals.md): pending requests for forced actions on tenants
 * marked `approval: two_person`. A request is created by one operator token and decided once,
 * by a different one, before it expires. One interface, two stores: in memory here (embedded
 * mode: a restart drops every pending request, which is the safe direction, nothing is carried
 * out that nobody approved after the restart), and in etcd (clustered mode,
 * src/cluster/approval-store.ts: every replica sees and decides the same requests).
 */
import { randomUUID } from 'node:crypto';
import { HttpError } from './http-error.js';

/** The actions that need a second operator on a marked tenant. */
export type ApprovalAction = 'failover' | 'failback' | 'fence' | 'unfence' | 'drill';
export const APPROVAL_ACTIONS: readonly ApprovalAction[] = Object.freeze(['failover', 'failback', 'fence', 'unfence', 'drill']);

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface Approval {
  id: string;
  action: ApprovalAction;
  tenant: string;
  site?: string;
  /** The request as the operator sent it: path, its parameters and JSON body, replayed on approval. */
  path: string;
  params: string[];
  body: Record<string, unknown>;
  reason: string;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  status: ApprovalStatus;
  decided_by?: string;
  decided_at?: string;
  decision_reason?: string;
  /** Approved: how carrying the action out ended (its HTTP status and error code, if any). */
  outcome?: { status: number; error?: string };
}

/** Pending requests at most; past it new ones are refused (a stuck queue is a problem to see, not to grow). */
export const MAX_PENDING = 1000;
/** Decided or expired requests kept for GET /approvals. */
export const MAX_RECENT = 200;

/** What the asking call gives; the store adds id, times and status. */
export type NewApproval = Omit<Approval, 'id' | 'requested_at' | 'expires_at' | 'status'>;

export interface ApprovalStore {
  /** Stores a new pending request expiring `timeoutMs` from now (429 too_many_pending past MAX_PENDING). */
  create(r: NewApproval, timeoutMs: number): Promise<Approval>;
  /** The checks of decide() without deciding: the pending request `by` may decide, or an HttpError. */
  check(id: string, by: string, decision: 'approved' | 'rejected'): Promise<Approval>;
  /**
   * Decides a pending request once: the same checks as check(), then marked decided so that of
   * two decisions racing (on one replica or on two) exactly one gets it; the other gets its
   * HttpError (409 approval_decided).
   */
  decide(id: string, by: string, decision: 'approved' | 'rejected', reason: string): Promise<Approval>;
  /** How carrying an approved request out ended (shown by GET /approvals). */
  setOutcome(a: Approval, outcome: NonNullable<Approval['outcome']>): Promise<void>;
  /** Pending requests, then recent decided or expired ones, newest first. */
  list(): Promise<Approval[]>;
}

/**
 * The decision checks, in order: the request exists, is still pending, has not expired (then
 * `expire` marks it so) and was not asked by the same token. Shared by both stores, so that
 * both answer with the same codes and bodies.
 */
export function checkDecidable(id: string, a: Approval | undefined, by: string, decision: 'approved' | 'rejected', now: number): Approval {
  if (!a) throw new HttpError(404, 'not_found', `no approval request "${id}"`);
  if (a.status === 'pending' && isExpired(a, now)) a = { ...a, status: 'expired' };
  if (a.status === 'expired') throw new HttpError(410, 'approval_expired', `approval request ${id} expired at ${a.expires_at}; nothing was done: ask again`, { approval: a });
  if (a.status !== 'pending') throw new HttpError(409, 'approval_decided', `approval request ${id} was already ${a.status} by "${a.decided_by}"`, { approval: a });
  if (a.requested_by === by) {
    throw new HttpError(403, 'same_approver', `token "${by}" asked for this ${a.action}; a different operator token must ${decision === 'approved' ? 'approve' : 'reject'} it (two-person rule)`, { approval: a });
  }
  return a;
}

export function isExpired(a: Approval, now: number): boolean {
  return now >= Date.parse(a.expires_at);
}

export function tooManyPending(): HttpError {
  return new HttpError(429, 'too_many_pending', `${MAX_PENDING} approval requests are already pending: approve, reject or let them expire first`);
}

/** A new pending request. */
export function newApproval(r: NewApproval, at: number, timeoutMs: number): Approval {
  return { ...r, id: randomUUID(), requested_at: new Date(at).toISOString(), expires_at: new Date(at + timeoutMs).toISOString(), status: 'pending' };
}

/** Embedded mode: requests in this process's memory. */
export class MemoryApprovalStore implements ApprovalStore {
  private readonly pending = new Map<string, Approval>();
  private readonly recent: Approval[] = [];

  constructor(
    /** Called once for each request that expired undecided (audited by the caller). */
    private readonly onExpire: (a: Approval) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  // Every method runs to its end without an await: a check and its decision cannot interleave with another's.
  async create(r: NewApproval, timeoutMs: number): Promise<Approval> {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) throw tooManyPending();
    const a = newApproval(r, this.now(), timeoutMs);
    this.pending.set(a.id, a);
    return a;
  }

  async decide(id: string, by: string, decision: 'approved' | 'rejected', reason: string): Promise<Approval> {
    const a = this.checkNow(id, by, decision);
    a.decided_by = by;
    a.decided_at = new Date(this.now()).toISOString();
    a.decision_reason = reason;
    this.finish(a, decision);
    return a;
  }

  async check(id: string, by: string, decision: 'approved' | 'rejected'): Promise<Approval> {
    return this.checkNow(id, by, decision);
  }

  async setOutcome(a: Approval, outcome: NonNullable<Approval['outcome']>): Promise<void> {
    a.outcome = outcome;
  }

  async list(): Promise<Approval[]> {
    this.sweep();
    return [...[...this.pending.values()].reverse(), ...[...this.recent].reverse()];
  }

  private checkNow(id: string, by: string, decision: 'approved' | 'rejected'): Approval {
    const a = this.pending.get(id) ?? this.recent.find((r) => r.id === id);
    if (a?.status === 'pending' && this.expired(a)) this.finish(a, 'expired');
    return checkDecidable(id, a, by, decision, this.now());
  }

  private expired(a: Approval): boolean {
    return isExpired(a, this.now());
  }

  private sweep(): void {
    for (const a of this.pending.values()) if (this.expired(a)) this.finish(a, 'expired');
  }

  private finish(a: Approval, status: ApprovalStatus): void {
    a.status = status;
    if (status === 'expired') this.onExpire(a);
    this.pending.delete(a.id);
    this.recent.push(a);
    if (this.recent.length > MAX_RECENT) this.recent.shift();
  }
}
