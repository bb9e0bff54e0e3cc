/**
 * Two-person approval in the admin API (docs/approvals.md):
 *
 *   POST /tenants/:t/failover|failback|drills, /tenants/:t/sites/:s/fence|unfence
 *        on a tenant marked `approval: two_person` → 202 {approval: {...}, status: "pending"}
 *   GET  /approvals                 viewer    pending requests, then recent decided ones
 *   POST /approvals/:id  {reason}   operator  a DIFFERENT token approves: the action runs now
 *   POST /approvals/:id/reject {reason}  operator
 *
 * The gate wraps the existing routes, so an approved request is carried out by the very handler
 * a direct call runs (every check applies at that moment; a follower forwards to the leader as
 * usual), with its own intent and outcome records naming both `requested_by` and
 * `approved_by`. Automatic failover never passes here: it is never held for approval.
 * The requests live in the proxy's store (AdminApi.approvalStore: etcd in clustered mode, so
 * that any replica lists and decides them), else in this process's memory.
 */
import type { Notifier } from '../notify/events.js';
import { SILENT_NOTIFIER } from '../notify/events.js';
import type { AdminApi } from './api.js';
import { APPROVAL_ACTIONS, MemoryApprovalStore, type Approval, type ApprovalAction, type ApprovalStore } from './approvals.js';
import type { AuditLog, AuditRecord } from './audit.js';
import { HttpError } from './http-error.js';
import { Reply } from './reply.js';
import { reasonOf, type Ctx, type Route } from './routes.js';

export interface ApprovalDeps {
  api: AdminApi;
  audit: AuditLog;
  /** admin.approval_timeout, read at each request (a reload applies to new requests). */
  timeout: () => number;
  /** The admin server's error mapping, for the status of a carried-out action that failed. */
  toHttpError: (err: unknown) => HttpError;
}

/** Body fields each gated action accepts (checked before a request is stored, again when carried out). */
const FIELDS: Record<ApprovalAction, string[]> = {
  failover: ['to', 'reason', 'force', 'break_glass'],
  failback: ['reason', 'force', 'break_glass'],
  fence: ['reason', 'force', 'break_glass'],
  unfence: ['reason'],
  drill: ['to', 'dwell', 'failback', 'reason'],
};

/** Contexts replayed by an approval: they pass the gate. */
const approvedCalls = new WeakSet<Ctx>();

function summary(a: Approval): Pick<Approval, 'id' | 'action' | 'tenant' | 'requested_by' | 'expires_at'> & { site?: string } {
  return { id: a.id, action: a.action, tenant: a.tenant, ...(a.site !== undefined && { site: a.site }), requested_by: a.requested_by, expires_at: a.expires_at };
}

/** The gated routes wrapped, plus the /approvals routes. */
export function withApprovals(routes: Route[], deps: ApprovalDeps): Route[] {
  const onExpire = (a: Approval): void =>
    void deps.audit.event({ event: 'approval_expired', approval: a.id, action: a.action, tenant: a.tenant, requested_by: a.requested_by }, `approval request ${a.id} (${a.action} of ${a.tenant} by ${a.requested_by}) expired undecided; nothing was done`);
  const store = deps.api.approvalStore?.(onExpire) ?? new MemoryApprovalStore(onExpire);
  const handlers = new Map<ApprovalAction, Route>();
  const wrapped = routes.map((r) => {
    if (!(APPROVAL_ACTIONS as readonly string[]).includes(r.action) || !r.pattern.source.startsWith('^\\/tenants\\/')) return r;
    const action = r.action as ApprovalAction;
    handlers.set(action, r);
    return { ...r, handle: (ctx: Ctx) => (approvedCalls.has(ctx) || !needsApproval(deps.api, ctx.params[0]!) ? r.handle(ctx) : request(store, deps, action, ctx)) };
  });
  return [...wrapped, ...approvalRoutes(store, deps, handlers)];
}

function needsApproval(api: AdminApi, tenant: string): boolean {
  return api.tenant(tenant)?.config.approval === 'two_person';
}

/** A gated call on a marked tenant: checked, stored as pending, audited as such, announced. */
async function request(store: ApprovalStore, deps: ApprovalDeps, action: ApprovalAction, ctx: Ctx): Promise<Reply> {
  const tenant = (ctx.audit.tenant = ctx.params[0]!);
  for (const k of Object.keys(ctx.body)) {
    if (!FIELDS[action].includes(k)) throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: ${FIELDS[action].join(', ')})`);
  }
  const reason = (ctx.audit.reason = reasonOf(ctx)!);
  const to = ctx.body.to;
  if (to !== undefined && (typeof to !== 'string' || to.trim() === '')) throw new HttpError(400, 'bad_request', '"to" must be a site name');
  const site = action === 'fence' || action === 'unfence' ? ctx.params[1] : typeof to === 'string' ? to : undefined;
  if (site !== undefined) ctx.audit.site = site;
  const by = ctx.principal?.name ?? 'anonymous';
  const a = await store.create({ action, tenant, ...(site !== undefined && { site }), path: ctx.path, params: [...ctx.params], body: { ...ctx.body }, reason, requested_by: by }, deps.timeout());
  Object.assign(ctx.audit, { result: 'pending', approval: a.id, requested_by: by, detail: `pending two-person approval ${a.id} until ${a.expires_at}` } satisfies Partial<AuditRecord>);
  const t = deps.api.tenant(tenant);
  notifier(deps.api).emit({
    kind: 'approval_requested',
    at: Date.now(),
    severity: 'warning',
    summary: `${by} asks to ${action} ${tenant}${site !== undefined ? ` (${site})` : ''}: a second operator must approve before ${a.expires_at} (drproxy approve ${a.id} --reason …)`,
    tenant,
    ...(t && { tier: t.config.tier.name }),
    ...(site !== undefined && { site }),
    dedup_key: `approval:${a.id}`,
    details: { approval: a.id, action, requested_by: by, expires_at: a.expires_at, reason },
  });
  return new Reply(202, { approval: summary(a), status: 'pending' });
}

function notifier(api: AdminApi): Notifier {
  try {
    return api.notifierService?.() ?? SILENT_NOTIFIER;
  } catch {
    return SILENT_NOTIFIER;
  }
}

function approvalRoutes(store: ApprovalStore, deps: ApprovalDeps, handlers: Map<ApprovalAction, Route>): Route[] {
  const decideCtx = (ctx: Ctx): string => {
    for (const k of Object.keys(ctx.body)) if (k !== 'reason') throw new HttpError(400, 'bad_request', `unknown field "${k}" (allowed: reason)`);
    return (ctx.audit.reason = reasonOf(ctx)!);
  };
  return [
    { method: 'GET', pattern: /^\/approvals$/, role: 'viewer', action: 'approvals', handle: async () => ({ approvals: await store.list() }) },
    {
      method: 'POST',
      pattern: /^\/approvals\/([^/]+)$/,
      role: 'operator',
      action: 'approve',
      async handle(ctx) {
        const why = decideCtx(ctx);
        const by = ctx.principal?.name ?? 'anonymous';
        const id = ctx.params[0]!;
        // The carried-out action's intent goes to the audit file before the request is marked
        // approved: when it cannot be written (503), the request stays pending.
        const seen = await store.check(id, by, 'approved');
        const base = intentOf(seen, by, ctx);
        deps.audit.intent(base);
        const a = await decided(store.decide(id, by, 'approved', why), base, deps);
        Object.assign(ctx.audit, { approval: a.id, tenant: a.tenant, requested_by: a.requested_by, approved_by: by, detail: `approved ${a.action} of ${a.tenant} asked by ${a.requested_by}` });
        return carryOut(store, a, base, ctx, deps, handlers.get(a.action)!);
      },
    },
    {
      method: 'POST',
      pattern: /^\/approvals\/([^/]+)\/reject$/,
      role: 'operator',
      action: 'reject',
      async handle(ctx) {
        const why = decideCtx(ctx);
        const a = await store.decide(ctx.params[0]!, ctx.principal?.name ?? 'anonymous', 'rejected', why);
        Object.assign(ctx.audit, { approval: a.id, tenant: a.tenant, requested_by: a.requested_by, detail: `rejected ${a.action} of ${a.tenant} asked by ${a.requested_by}; nothing was done` });
        return { approval: { ...summary(a), status: a.status, rejected_by: a.decided_by }, status: 'rejected' };
      },
    },
  ];
}

/**
 * Runs the approved action through its own route handler, between an intent and an outcome
 * record of that action (actor: who asked; approved_by: who approved), and answers with the
 * action's answer plus the approval.
 */
/** The carried-out action's intent record: actor who asked, with both names. */
function intentOf(a: Approval, approver: string, ctx: Ctx): Omit<AuditRecord, 'result' | 'status'> {
  return { action: a.action, actor: a.requested_by, role: 'operator', remote: ctx.remote, tenant: a.tenant, ...(a.site !== undefined && { site: a.site }), reason: a.reason, approval: a.id, requested_by: a.requested_by, approved_by: approver };
}

async function carryOut(store: ApprovalStore, a: Approval, base: Omit<AuditRecord, 'result' | 'status'>, ctx: Ctx, deps: ApprovalDeps, route: Route): Promise<unknown> {
  const both = { approval: a.id, requested_by: a.requested_by, approved_by: a.decided_by! };
  const replay: Ctx = {
    req: ctx.req,
    remote: ctx.remote,
    path: a.path,
    params: a.params,
    principal: { name: a.requested_by, role: 'operator' },
    authorized: true,
    body: a.body,
    audit: { ...both },
  };
  approvedCalls.add(replay);
  try {
    const result = await route.handle(replay);
    const status = result instanceof Reply ? result.status : 200;
    await setOutcome(store, a, { status }, deps);
    deps.audit.record({ ...base, ...replay.audit, result: 'ok', status });
    const approval = { ...summary(a), status: a.status, approved_by: a.decided_by };
    if (result instanceof Reply) return new Reply(result.status, { ...(result.body as object), approval });
    return { ...(result as object), approval };
  } catch (err) {
    const e = deps.toHttpError(err);
    await setOutcome(store, a, { status: e.status, error: e.code }, deps);
    deps.audit.record({ ...base, ...replay.audit, result: 'error', status: e.status, detail: e.message });
    throw err;
  }
}

/**
 * The decision of an approval whose carried-out intent is already written: when it is refused
 * after all (another replica decided the request in between), that intent gets its outcome.
 */
async function decided(decision: Promise<Approval>, base: Omit<AuditRecord, 'result' | 'status'>, deps: ApprovalDeps): Promise<Approval> {
  try {
    return await decision;
  } catch (err) {
    const e = deps.toHttpError(err);
    deps.audit.record({ ...base, result: 'error', status: e.status, detail: `not carried out: ${e.message}` });
    throw err;
  }
}

/** Stored for GET /approvals; a store that cannot write it (etcd unavailable) does not change the answer. */
async function setOutcome(store: ApprovalStore, a: Approval, outcome: NonNullable<Approval['outcome']>, deps: ApprovalDeps): Promise<void> {
  await store.setOutcome(a, outcome).catch((err: unknown) => deps.audit.event({ event: 'approval_outcome_unsaved', approval: a.id, error: (err as Error).message }, `the outcome of approval ${a.id} could not be stored`));
}
