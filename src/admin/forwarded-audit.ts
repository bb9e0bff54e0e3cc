/**
 * The audit records of an operator action carried across replicas (clustered mode). The
 * follower that received the call records it as usual, plus `forwarded_to: <leader>` (the
 * replica it believed led when it sent the action); the leader that carries it out writes its
 * own intent and outcome, with `forwarded_from: <follower>` and the proposal's id, so that
 * the two trails can be joined and neither claims the other's work.
 */
import type { Proposal } from '../cluster/proposals.js';
import { DrProxyError } from '../errors.js';
import type { AuditLog, AuditRecord } from './audit.js';

/** Who this replica is and who leads, as the admin server needs it. */
export interface ClusterRole {
  replica: string;
  leader: string | null;
  leading: boolean;
}

/** The leader the action goes to when this replica does not lead; undefined when it runs here. */
export function forwardedTo(role: ClusterRole | undefined): string | undefined {
  if (role === undefined || role.leading) return undefined;
  return role.leader ?? 'no leader known';
}

/** An approved action (approval-routes.ts replays it): who asked and who approved, carried with a forwarded action to the leader's record. */
export function approvalOf(audit: Partial<AuditRecord>): Pick<AuditRecord, 'approval' | 'requested_by' | 'approved_by'> {
  if (audit.approved_by === undefined) return {};
  return { approval: audit.approval, requested_by: audit.requested_by, approved_by: audit.approved_by };
}

/** What the leader's record says of the proposal (the fields the admin route would have filled). */
function fieldsOf(p: Proposal): Omit<AuditRecord, 'result' | 'status'> {
  const op = p.op as { actor?: unknown; reason?: unknown; to?: unknown; site?: unknown; approval?: unknown; requested_by?: unknown; approved_by?: unknown };
  const approval = typeof op.approved_by === 'string' ? { approval: String(op.approval), requested_by: String(op.requested_by), approved_by: op.approved_by } : {};
  const site = typeof op.site === 'string' ? op.site : typeof op.to === 'string' ? op.to : undefined;
  return {
    action: p.action,
    actor: typeof op.actor === 'string' ? op.actor : 'anonymous',
    // A region drill has no tenant (its region is in the detail).
    ...(p.tenant !== '' && { tenant: p.tenant }),
    ...(typeof (p.op as { region?: unknown }).region === 'string' && { detail: `region ${(p.op as { region: string }).region}` }),
    ...(site !== undefined && { site }),
    ...(typeof op.reason === 'string' && { reason: op.reason }),
    forwarded_from: p.replica,
    proposal: p.id,
    ...approval,
  };
}

/** The status the follower's admin API answers for this code (server.ts toHttpError). */
function statusOf(code: string): number {
  if (code === 'DRP_CONFLICT' || code === 'DRP_STATE_CONFLICT') return 409;
  if (code === 'DRP_NOT_FOUND') return 404;
  return code === 'DRP_INTERNAL' ? 500 : 503;
}

/** Runs a forwarded action on the leader between its intent and outcome records. */
export async function auditedCarryOut(audit: AuditLog, p: Proposal, run: () => Promise<unknown>): Promise<unknown> {
  const fields = fieldsOf(p);
  try {
    audit.intent(fields);
  } catch (err) {
    // Refused as on a single replica: the follower answers 503 audit_unavailable; nothing ran.
    throw new DrProxyError('DRP_AUDIT_UNAVAILABLE', `on the leader: ${(err as Error).message}`, { cause: err });
  }
  try {
    const value = await run();
    const epoch = (value as { epoch?: unknown } | undefined)?.epoch;
    audit.record({ ...fields, result: 'ok', status: 200, ...(typeof epoch === 'number' && { epoch_after: epoch }), detail: `carried out for replica ${p.replica}` });
    return value;
  } catch (err) {
    const code = err instanceof DrProxyError ? err.code : 'DRP_INTERNAL';
    audit.record({ ...fields, result: 'error', status: statusOf(code), detail: `${code}: ${(err as Error).message}` });
    throw err;
  }
}
