/**
 * GET /audit (viewer): the audit trail read back from `admin.audit_file`, newest first
 * (audit-read.ts; docs/console.md "Audit trail"). The call is itself audited, as every read is.
 *
 *   GET /audit?limit=100&before=<seq>&tenant=<t>&action=<a>&event=<e>
 *     → { records, count, stopped, next_before, scanned, chain, file }
 *   no audit_file → 404 { error: "no_audit_file" }; a bad query value → 400 bad_request
 */
import { basename } from 'node:path';
import type { AdminApi } from './api.js';
import { HttpError } from './http-error.js';
import { readAuditPage, SCAN_MAX_BYTES, type AuditQuery } from './audit-read.js';
import type { Ctx, Route } from './routes.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const PARAMS = ['limit', 'before', 'tenant', 'action', 'event'];
/** Longest filter value: longer ones cannot match (audit.ts cuts stored strings well before). */
const FILTER_MAX = 2048;

function wholeNumber(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const text = q.get(name);
  if (text === null) return undefined;
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, 'bad_request', `"${name}" must be a whole number from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`);
  return n;
}

/** The query string of GET /audit, checked (throws 400 with what is wrong). */
export function auditQuery(url: string | undefined): AuditQuery {
  const q = new URL(url ?? '/', 'http://x').searchParams;
  for (const k of new Set(q.keys())) {
    if (!PARAMS.includes(k)) throw new HttpError(400, 'bad_request', `unknown query parameter "${k.slice(0, 40)}" (allowed: ${PARAMS.join(', ')})`);
    if (q.getAll(k).length > 1) throw new HttpError(400, 'bad_request', `"${k}" is given more than once`);
  }
  const out: AuditQuery = { limit: wholeNumber(q, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT };
  const before = wholeNumber(q, 'before', 1, Number.MAX_SAFE_INTEGER);
  if (before !== undefined) out.before = before;
  for (const k of ['tenant', 'action', 'event'] as const) {
    const v = q.get(k);
    if (v === null) continue;
    if (v === '' || v.length > FILTER_MAX) throw new HttpError(400, 'bad_request', `"${k}" must be a non-empty string of at most ${FILTER_MAX} characters`);
    out[k] = v;
  }
  return out;
}

export function auditRoutes(api: AdminApi): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/audit$/,
      role: 'viewer',
      action: 'audit_read',
      async handle(ctx: Ctx) {
        const q = auditQuery(ctx.req.url);
        // The query in `detail`, not in `tenant`: a read must not show up among the tenant's own records.
        const asked = (['tenant', 'action', 'event', 'before'] as const).filter((k) => q[k] !== undefined).map((k) => `${k}=${String(q[k])}`);
        if (asked.length > 0) ctx.audit.detail = asked.join(' ');
        const file = api.audit?.filePath;
        if (file === undefined) throw new HttpError(404, 'no_audit_file', 'this proxy keeps no audit file: set admin.audit_file to have the audit trail written to a file and readable here (docs/logging.md)');
        let page;
        try {
          page = await readAuditPage(file, q);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new HttpError(503, 'audit_unreadable', `the audit file cannot be read (${e.code ?? e.message})`);
        }
        return {
          file: basename(file),
          count: page.records.length,
          limit: q.limit,
          ...(q.before !== undefined && { before: q.before }),
          stopped: page.stopped,
          next_before: page.next_before,
          scanned: { ...page.scanned, max_bytes: SCAN_MAX_BYTES },
          chain: { ...page.chain, note: 'links of the lines scanned only (prev = hash of the line before); no hash is recomputed: run `drproxy verify-audit` for a full verification' },
          records: page.records,
        };
      },
    },
  ];
}
