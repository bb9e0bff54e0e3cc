/**
 * The audit trail (GET /audit, newest first): a table of the records, a tenant filter, and
 * paging back with the answer's `next_before` cursor. The records are untrusted text (reasons,
 * names): they only ever become text nodes (dom.ts). A proxy without `admin.audit_file`
 * answers 404 no_audit_file, whose words are shown as they are.
 */
import { ApiError, getJson } from './api.js';
import { fill, h } from './dom.js';
import { epochOf, resultOf, str, whatOf, type AuditRecord } from './audit-format.js';

interface AuditPage {
  count: number;
  stopped: 'limit' | 'start_of_file' | 'scan_bound';
  next_before: number | null;
  scanned: { bytes: number; lines: number; skipped_lines: number; max_bytes: number };
  chain: { consistent: boolean; links_checked: number; breaks: number[]; segments: number[] };
  records: AuditRecord[];
}

const PAGE = 50;

/** The audit section: a filter form, the table, and the pager. `tenant`: filtered from the start. */
export function auditSection(opts: { tenant?: string; headingLevel: 'h1' | 'h2' }): HTMLElement {
  const list = h('div', { class: 'audit-list', 'aria-live': 'polite' }, h('p', {}, 'Loading the audit trail…'));
  const input = h('input', { id: 'audit-tenant', name: 'tenant', type: 'search', autocomplete: 'off', value: opts.tenant ?? '' });
  const form = h('form', { class: 'audit-filter', role: 'search', 'aria-label': 'Filter the audit trail' },
    h('div', { class: 'field' }, h('label', { for: 'audit-tenant' }, 'Tenant'), input),
    h('button', { type: 'submit' }, 'Filter'),
  );
  let tenant = opts.tenant ?? '';
  const load = (before: number | null): void => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (before !== null) q.set('before', String(before));
    if (tenant !== '') q.set('tenant', tenant);
    getJson<AuditPage>(`/audit?${q.toString()}`).then(
      (page) => fill(list, ...pageOf(page, tenant, before, load)),
      (e: unknown) => fill(list, h('p', { class: e instanceof ApiError && e.code === 'no_audit_file' ? 'note' : 'error', role: 'alert' }, e instanceof ApiError ? e.message : `Could not read the audit trail: ${String(e)}`)),
    );
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    tenant = input.value.trim();
    load(null);
  });
  load(null);
  return h('section', { class: 'audit', 'aria-labelledby': 'audit-h' },
    h(opts.headingLevel, { id: 'audit-h' }, 'Audit trail'),
    h('p', { class: 'hint' }, 'Every admin call and state change, newest first, read from the proxy\'s audit file. The chain check covers the links of the lines read only; run drproxy verify-audit for a full verification.'),
    form,
    list,
  );
}

function pageOf(page: AuditPage, tenant: string, before: number | null, load: (before: number | null) => void): HTMLElement[] {
  const what = tenant === '' ? 'records' : `records of tenant ${tenant}`;
  const notes: string[] = [`${page.count} ${what}${before !== null ? ` before #${before}` : ''}.`];
  if (page.stopped === 'scan_bound') notes.push(`The read stopped after ${Math.round(page.scanned.bytes / 1048576)} MB without finding ${PAGE}: older records may match.`);
  if (page.scanned.skipped_lines > 0) notes.push(`${page.scanned.skipped_lines} line(s) that are not records were skipped (a line torn by a crash).`);
  notes.push(page.chain.consistent ? `Chain links of the ${page.chain.links_checked} pair(s) of lines read: consistent.` : `Chain links broken at #${page.chain.breaks.join(', #')}: run drproxy verify-audit.`);
  const buttons: HTMLElement[] = [];
  if (before !== null) {
    const newest = h('button', { type: 'button' }, 'Newest');
    newest.addEventListener('click', () => load(null));
    buttons.push(newest);
  }
  if (page.next_before !== null) {
    const older = h('button', { type: 'button', class: 'older' }, 'Older records');
    const cursor = page.next_before;
    older.addEventListener('click', () => load(cursor));
    buttons.push(older);
  }
  return [
    h('p', { class: 'table-summary' }, notes.join(' ')),
    page.records.length === 0 ? h('p', {}, 'No record.') : table(page.records),
    h('div', { class: 'pager' }, h('p', {}, ...buttons)),
  ];
}

function table(records: AuditRecord[]): HTMLElement {
  const cols = ['#', 'Time', 'Actor', 'Action or event', 'Tenant', 'Result', 'Reason', 'Epoch'];
  return h('div', { class: 'table-wrap' }, h('table', { class: 'drills audit-records' },
    h('caption', { class: 'visually-hidden' }, 'Audit records, newest first'),
    h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...records.map((r) => h('tr', { 'data-seq': str(r.seq), 'data-event': str(r.event) },
      h('th', { scope: 'row', 'data-label': '#', class: 'num' }, str(r.seq) || '—'),
      h('td', { 'data-label': 'Time' }, typeof r.time === 'string' ? h('time', { datetime: r.time }, new Date(r.time).toLocaleString()) : '—'),
      h('td', { 'data-label': 'Actor' }, str(r.actor) || str(r.trigger) || 'drproxy'),
      h('td', { 'data-label': 'Action or event', 'data-field': 'what' }, whatOf(r)),
      h('td', { 'data-label': 'Tenant' }, r.tenant !== undefined ? h('a', { href: `#/tenants/${encodeURIComponent(str(r.tenant))}` }, str(r.tenant)) : '—'),
      h('td', { 'data-label': 'Result' }, resultOf(r)),
      h('td', { 'data-label': 'Reason', class: 'reason' }, str(r.reason) || str(r.detail) || '—'),
      h('td', { 'data-label': 'Epoch', class: 'num' }, epochOf(r)),
    ))),
  ));
}

/** The view of its own (#/audit, #/audit?tenant=…), linked from a tenant's view. */
export function auditView(tenant: string | undefined): HTMLElement {
  return h('div', { class: 'view audit-view' }, auditSection({ ...(tenant !== undefined && { tenant }), headingLevel: 'h1' }));
}
