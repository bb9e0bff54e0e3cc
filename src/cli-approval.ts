/**
 * Two-person approval in the CLI (docs/approvals.md):
 *
 *   drproxy approvals [--json]              pending requests, then recent decided ones
 *   drproxy approve ID --reason TEXT [--json]   a DIFFERENT operator token carries the action out
 *   drproxy reject ID --reason TEXT [--json]
 *
 * An action asked on a marked tenant (drproxy failover|failback|fence|unfence|drill) prints that
 * it is pending, with its id, and exits 3 ("pending approval": not done, not refused either).
 */
import { parseArgs } from 'node:util';
import { AdminApiError } from './admin/client.js';
import { cliJsonText } from './cli-json.js';
import { ADMIN_OPTIONS, failure, openClient, table } from './cli-control.js';

export const APPROVAL_COMMANDS = ['approvals', 'approve', 'reject'] as const;
type ApprovalCommand = (typeof APPROVAL_COMMANDS)[number];

/** Exit status of an action that became a pending approval request. */
export const EXIT_PENDING = 3;

export const APPROVAL_HELP = `Two-person approval (tenants or tiers marked approval: two_person):
  drproxy approvals [--json]                          pending approval requests, then recent decided ones
  drproxy approve ID --reason TEXT                    approve request ID (not with the token that asked): it runs now
  drproxy reject ID --reason TEXT                     reject request ID: nothing is done
  A failover, failback, fence, unfence or drill of a marked tenant prints its pending request id and
  exits 3 (pending approval).
`;

export function isApprovalCommand(command: string | undefined): command is ApprovalCommand {
  return (APPROVAL_COMMANDS as readonly string[]).includes(command ?? '');
}

interface PendingAnswer {
  status: 'pending';
  approval: { id: string; action: string; tenant: string; site?: string; requested_by: string; expires_at: string };
}

export function isPending(r: unknown): r is PendingAnswer {
  const o = r as Partial<PendingAnswer> | undefined;
  return typeof o === 'object' && o !== null && o.status === 'pending' && typeof o.approval?.id === 'string';
}

/** Prints a pending request (text or JSON) and returns EXIT_PENDING. */
export function reportPending(r: PendingAnswer, json: boolean): number {
  const a = r.approval;
  if (json) process.stdout.write(`${cliJsonText(r)}\n`);
  else {
    process.stdout.write(
      `${a.action} of ${a.tenant}${a.site ? ` (${a.site})` : ''} is PENDING two-person approval: request ${a.id}, asked by ${a.requested_by}, expires ${a.expires_at}\n` +
        `another operator approves it with: drproxy approve ${a.id} --reason TEXT\n`,
    );
  }
  return EXIT_PENDING;
}

const out = (s: string) => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const usage = (command: string, message: string): number => {
  process.stderr.write(`drproxy ${command}: ${message}\n\n${APPROVAL_HELP}`);
  return 2;
};

/** Runs one approval command; resolves with the exit status. Never throws. */
export async function runApproval(command: ApprovalCommand, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...ADMIN_OPTIONS, reason: { type: 'string' } },
    });
  } catch (e) {
    return usage(command, (e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return (out(APPROVAL_HELP), 0);
  const json = values.json === true;
  const id = positionals[0]?.trim() ?? '';
  if (command !== 'approvals' && !id) return usage(command, 'missing ID');
  if (positionals.length > (command === 'approvals' ? 0 : 1)) return usage(command, `unexpected argument "${positionals.at(-1)}"`);
  if (command !== 'approvals' && !values.reason?.trim()) return usage(command, '--reason TEXT is required: it is written to the audit log');
  const client = openClient(values, (m) => usage(command, m));
  if (typeof client === 'number') return client;
  try {
    if (command === 'approvals') {
      const r = (await client.raw('GET', '/approvals')) as { status: number; body: { approvals?: Record<string, string>[] } };
      if (r.status !== 200) return failure(apiError(r), json, client, true);
      if (json) return (out(cliJsonText(r.body)), 0);
      const rows = (r.body.approvals ?? []).map((a) => [a.id!, a.status!, a.action!, a.tenant!, a.requested_by!, a.decided_by ?? '-', a.expires_at!]);
      out(rows.length === 0 ? 'no approval requests' : table(['ID', 'STATUS', 'ACTION', 'TENANT', 'ASKED BY', 'DECIDED BY', 'EXPIRES'], rows));
      return 0;
    }
    const path = `/approvals/${encodeURIComponent(id)}${command === 'reject' ? '/reject' : ''}`;
    const r = await client.raw('POST', path, { reason: values.reason!.trim() });
    if (r.status < 200 || r.status > 299) return failure(apiError(r), json, client, true);
    if (json) return (out(cliJsonText(r.body)), 0);
    const b = r.body as { approval?: { action?: string; tenant?: string; requested_by?: string }; epoch?: number; to?: string; result?: string };
    const a = b.approval ?? {};
    out(command === 'reject' ? `rejected ${a.action} of ${a.tenant} asked by ${a.requested_by}: nothing was done` : `approved ${a.action} of ${a.tenant} asked by ${a.requested_by}: carried out${b.result ? ` (${b.result}${b.to ? ` to ${b.to}` : ''}, epoch ${b.epoch})` : ''}`);
    return 0;
  } catch (e) {
    return failure(e, json, client, true);
  }
}

function apiError(r: { status: number; body: unknown }): AdminApiError {
  return new AdminApiError(r.status, r.body);
}
